// The real AWS CLI against the local stack. Debian's awscli (2.9) speaks SQS's query protocol
// (XML), unlike the JS SDK: a producer in another language reaches the control plane the same
// way. Runs when an `aws` binary is found (`.ci/run` installs Debian's).
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../../local/stack.ts';
import { createEnvelope } from '../../../shared/contracts/producer.ts';
import {
  locationRecord,
  schemaKeyOf,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
} from '../../integration/support.ts';

/** Debian's CLI first: a newer `aws` earlier on PATH (pip, pyenv) speaks JSON instead. */
function findAwsCli(): string | undefined {
  if (process.env.AWS_CLI) return process.env.AWS_CLI;
  if (existsSync('/usr/bin/aws')) return '/usr/bin/aws';
  const found = spawnSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const cli = findAwsCli();
const run = promisify(execFile);
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

// Any credentials work locally; no profile, config file or instance metadata of this machine.
const CLI_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  LANG: 'C.UTF-8',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_PAGER: '',
};

describe.skipIf(!cli)(`the AWS CLI (${cli}) against the local SQS`, () => {
  let stack: LocalStack;

  /** Runs `aws --endpoint-url <local sqs> sqs <args>`; parsed JSON output. */
  async function aws(...args: string[]): Promise<Record<string, unknown>> {
    // Async on purpose: the stack answers the CLI from this very process.
    const { stdout } = await run(
      cli!,
      ['--endpoint-url', stack.endpoints.sqs, '--output', 'json', 'sqs', ...args],
      { env: CLI_ENV, timeout: 60_000 },
    );
    return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
  }

  beforeAll(async () => {
    stack = await startTestStack();
  }, 120_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  it('sends query-protocol requests (the point of this file)', async () => {
    const { stdout, stderr } = await run(
      cli!,
      ['--debug', '--endpoint-url', stack.endpoints.sqs, '--output', 'json', 'sqs', 'list-queues'],
      { env: CLI_ENV, timeout: 60_000 },
    );
    expect(JSON.parse(stdout).QueueUrls).toContain(stack.queues['shard-creation']);
    const query = stderr.includes("'Action': 'ListQueues'");
    // Debian 12's awscli is 2.9; SQS moved to the JSON protocol in aws-cli 2.13.
    if (cli === '/usr/bin/aws') expect(query, 'Debian awscli should speak query').toBe(true);
    else if (!query) console.warn(`${cli} speaks JSON to SQS: the query protocol is not exercised`);
  }, 60_000);

  it('get-queue-url and list-queues give the URLs the stack uses', async () => {
    const { QueueUrl } = await aws('get-queue-url', '--queue-name', 'shard-creation');
    expect(QueueUrl).toBe(stack.queues['shard-creation']);
    const { QueueUrls } = await aws('list-queues', '--queue-name-prefix', 'shard-creation');
    expect(QueueUrls).toEqual(
      expect.arrayContaining([stack.queues['shard-creation'], stack.queues['shard-creation-dlq']]),
    );
  }, 60_000);

  it('send-message: a shard.create reaches every node of its shard', async () => {
    const loc = { businessId: 'biz-aws-cli', locationId: 'loc-cli-1' };
    const body = JSON.stringify(createEnvelope('shard.create', { ...loc, businessType: 'bakery' }));
    const sent = await aws(
      'send-message',
      '--queue-url',
      stack.queues['shard-creation']!,
      '--message-body',
      body,
      '--message-attributes',
      JSON.stringify({ type: { DataType: 'String', StringValue: 'shard.create' } }),
    );
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MessageId).toMatch(/\S/);

    const record = await waitFor(
      'the location recorded active',
      async () => {
        const r = await locationRecord(stack, loc);
        return r?.status === 'active' ? r : undefined;
      },
      45_000,
    );
    const nodes = stack.fleet!.nodesOf(record.shardId!);
    expect(nodes).toHaveLength(3);
    await waitFor(
      'the schema on every node of the shard',
      () => nodes.every((n) => n.state.schemas.has(schemaKeyOf(loc))),
      15_000,
    );
    for (const node of nodes) {
      expect(node.state.schemas.get(schemaKeyOf(loc))).toEqual({ ...loc, businessType: 'bakery' });
    }
  }, 90_000);

  it('a poison message ends in the DLQ: get-queue-attributes counts it, receive-message lists it', async () => {
    const body = JSON.stringify({
      type: 'shard.create',
      version: 1,
      id: 'aws-cli-poison',
      occurredAt: '2026-11-22T10:00:00.000Z',
      data: { businessId: 'biz-aws-cli', locationId: 'loc-poison', businessType: 'Not A Type' },
    });
    await aws(
      'send-message',
      '--queue-url',
      stack.queues['shard-creation']!,
      '--message-body',
      body,
    );

    const dlq = stack.queues['shard-creation-dlq']!;
    await waitFor(
      'the poison message in the DLQ',
      async () => {
        const { Attributes } = await aws(
          'get-queue-attributes',
          '--queue-url',
          dlq,
          '--attribute-names',
          'ApproximateNumberOfMessages',
        );
        return Number((Attributes as Record<string, string>).ApproximateNumberOfMessages) >= 1;
      },
      45_000,
      250,
    );
    // Visibility 0: a look that leaves the messages in the DLQ for whoever redrives them.
    const { Messages } = (await aws(
      'receive-message',
      '--queue-url',
      dlq,
      '--attribute-names',
      'All',
      '--message-attribute-names',
      'All',
      '--max-number-of-messages',
      '10',
      '--visibility-timeout',
      '0',
    )) as { Messages?: Array<Record<string, unknown>> };
    const poison = (Messages ?? []).find((m) => m.Body === body);
    expect(poison, JSON.stringify(Messages)).toBeDefined();
    expect(poison!.MD5OfBody).toBe(md5(body));
    const attrs = poison!.MessageAttributes as Record<string, { StringValue?: string }>;
    expect(attrs.failureReason?.StringValue).toMatch(/\S/);
    expect(new Date(attrs.failedAt?.StringValue ?? '').toISOString()).toBe(
      attrs.failedAt?.StringValue,
    );
    expect(poison!.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect((poison!.Attributes as Record<string, string>).SentTimestamp).toMatch(/^\d+$/);
  }, 90_000);

  it('errors come back as AWS error codes', async () => {
    const failed = await aws('get-queue-url', '--queue-name', 'no-such-queue').catch(
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed).toMatchObject({ code: 254 });
    expect((failed as { stderr: string }).stderr).toMatch(
      /\(AWS\.SimpleQueueService\.NonExistentQueue\).*GetQueueUrl/,
    );
  }, 60_000);
});
