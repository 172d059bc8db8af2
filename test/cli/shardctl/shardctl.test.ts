import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay, startRedrive } from '../../../cli/shardctl/dlq.ts';
import {
  requestConvergence,
  rotateSigningKeys,
  setReconcileEnabled,
} from '../../../cli/shardctl/operations.ts';
import { createTarget, type Target } from '../../../cli/shardctl/target.ts';
import {
  type SqsEmulator,
  type SsmEmulator,
  startSqsEmulator,
  startSsmEmulator,
} from '../../../local/emulators/index.ts';
import { verifyRequest } from '../../../shared/contracts/signing.ts';

let sqs: SqsEmulator;
let ssm: SsmEmulator;
let target: Target;

const letter = (businessId: string, n: number) =>
  JSON.stringify({
    type: 'shard.create',
    version: 1,
    id: `e-${businessId}-${n}`,
    occurredAt: '2026-11-22T10:00:00.000Z',
    data: { businessId, locationId: `l${n}`, businessType: 'retail' },
  });

async function depth(name: string) {
  const { Attributes } = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: await target.queueUrl(name),
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

async function drain(name: string) {
  const bodies: Array<{ body: string; attributes: string[] }> = [];
  for (;;) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: await target.queueUrl(name),
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 60,
      }),
    );
    if (!Messages.length) return bodies;
    bodies.push(
      ...Messages.map((m) => ({
        body: m.Body ?? '',
        attributes: Object.keys(m.MessageAttributes ?? {}).sort(),
      })),
    );
  }
}

async function deadLetter(body: string) {
  await target.sqs.send(
    new SendMessageCommand({
      QueueUrl: await target.queueUrl('shard-creation-dlq'),
      MessageBody: body,
      MessageAttributes: {
        failureReason: { DataType: 'String', StringValue: 'Citrus register failed: 503' },
        failedAt: { DataType: 'String', StringValue: '2026-11-22T10:00:01.000Z' },
        traceparent: { DataType: 'String', StringValue: 'kept' },
      },
    }),
  );
}

beforeAll(async () => {
  [sqs, ssm] = await Promise.all([startSqsEmulator({ port: 0 }), startSsmEmulator({ port: 0 })]);
  process.env.SQS_PORT = String(sqs.port);
  process.env.SSM_PORT = String(ssm.port);
  target = createTarget({ local: true });
  for (const queue of ['shard-creation', 'convergence']) {
    const { QueueUrl } = await target.sqs.send(
      new CreateQueueCommand({ QueueName: `${queue}-dlq` }),
    );
    const { Attributes } = await target.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await target.sqs.send(
      new CreateQueueCommand({
        QueueName: queue,
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: Attributes?.QueueArn,
            maxReceiveCount: 5,
          }),
        },
      }),
    );
  }
});
afterAll(async () => {
  delete process.env.SQS_PORT;
  delete process.env.SSM_PORT;
  await Promise.all([sqs.stop(), ssm.stop()]);
});

describe('shardctl dlq', () => {
  it('peeks without moving anything', async () => {
    await deadLetter(letter('peek', 1));
    const { letters } = await replay(target, 'shard-creation-dlq', {
      dryRun: true,
      holdSeconds: 30,
    });
    expect(letters).toEqual([
      expect.objectContaining({
        type: 'shard.create',
        businessId: 'peek',
        failureReason: 'Citrus register failed: 503',
        failedAt: '2026-11-22T10:00:01.000Z',
      }),
    ]);
    // Released at the end of the walk: still there, visible.
    expect(await depth('shard-creation-dlq')).toBe(1);
    await drain('shard-creation-dlq');
  });

  it('replays only the matching messages, without the DLQ attributes, counted, and keeps the rest', async () => {
    for (let n = 0; n < 12; n++) await deadLetter(letter(n % 3 === 0 ? 'acme' : 'other', n));
    const result = await replay(target, 'shard-creation-dlq', {
      filter: { businessId: 'acme' },
      holdSeconds: 30,
    });
    expect(result).toMatchObject({ scanned: 12, matched: 4, replayed: 4 });
    const replayed = await drain('shard-creation');
    expect(replayed.map((m) => JSON.parse(m.body).data.businessId)).toEqual([
      'acme',
      'acme',
      'acme',
      'acme',
    ]);
    // The DLQ's own attributes go; the replay is counted (the loop guard reads it).
    expect(replayed[0]?.attributes).toEqual(['replayCount', 'traceparent']);
    expect(await depth('shard-creation-dlq')).toBe(8);
  });

  it('honours --limit and --dry-run', async () => {
    const dry = await replay(target, 'shard-creation-dlq', {
      dryRun: true,
      limit: 3,
      holdSeconds: 30,
    });
    expect(dry.matched).toBe(3);
    expect(dry.replayed).toBe(0);
    expect(await depth('shard-creation-dlq')).toBe(8);
    const some = await replay(target, 'shard-creation-dlq', { limit: 3, holdSeconds: 30 });
    expect(some.replayed).toBe(3);
    expect(await depth('shard-creation-dlq')).toBe(5);
    await drain('shard-creation');
  });

  it('redrives a whole DLQ through StartMessageMoveTask', async () => {
    const handle = await startRedrive(target, 'shard-creation-dlq');
    expect(handle).toBeTruthy();
    for (let i = 0; i < 50 && (await depth('shard-creation-dlq')) > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    const { Results = [] } = await target.sqs.send(
      new ListMessageMoveTasksCommand({
        SourceArn: `arn:aws:sqs:us-east-1:000000000000:shard-creation-dlq`,
      }),
    );
    expect(Results[0]).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 5 });
    expect(await drain('shard-creation')).toHaveLength(5);
  });

  it('refuses to replay the schedule DLQ, with a reason', async () => {
    await expect(replay(target, 'reconcile-schedule-dlq')).rejects.toThrow(
      /failed schedule invocations/,
    );
  });
});

describe('shardctl operations', () => {
  it('requests a manual convergence', async () => {
    const result = await requestConvergence(target, ['shard-001', 'shard-002'], 'shardctl:test');
    expect(result.failed).toEqual([]);
    const jobs = (await drain('convergence')).map((m) => JSON.parse(m.body));
    expect(
      jobs.map((j) => [j.type, j.data.shardId, j.data.reason, j.data.requestedBy]).sort(),
    ).toEqual([
      ['shard.converge', 'shard-001', 'manual', 'shardctl:test'],
      ['shard.converge', 'shard-002', 'manual', 'shardctl:test'],
    ]);
  });

  it('flips the kill switch', async () => {
    await setReconcileEnabled(target, false);
    const { Parameter } = await target.ssm.send(
      new GetParameterCommand({ Name: '/shard-control/local/reconcile/enabled' }),
    );
    expect(Parameter?.Value).toBe('false');
  });

  it('rotates signing keys, keeping the old one valid for the grace period, printing no secret', async () => {
    const name = '/shard-control/local/node-agent/signing-keys';
    await target.ssm.send(
      new PutParameterCommand({
        Name: name,
        Type: 'SecureString',
        Value: '{"current":{"id":"local-1","secret":"old-secret"}}',
        Overwrite: true,
      }),
    );
    const result = await rotateSigningKeys(target, { newKeyId: 'local-2', graceHours: 24 });
    expect(result).toEqual({
      current: 'local-2',
      previous: 'local-1',
      previousValidUntil: expect.any(String),
    });
    expect(JSON.stringify(result)).not.toContain('secret');
    const { Parameter } = await target.ssm.send(
      new GetParameterCommand({ Name: name, WithDecryption: true }),
    );
    const keys = JSON.parse(Parameter?.Value ?? '');
    expect(keys.previous).toMatchObject({ id: 'local-1', secret: 'old-secret' });
    expect(keys.current.secret.length).toBeGreaterThanOrEqual(40);
    // An agent holding the new keys still accepts requests signed with the old key until validUntil.
    const { signRequest } = await import('../../../shared/contracts/signing.ts');
    const headers = Object.fromEntries(
      Object.entries(
        signRequest({ id: 'local-1', secret: 'old-secret' }, 'GET', '/v1/health', ''),
      ).map(([k, v]) => [k.toLowerCase(), v]),
    );
    expect(verifyRequest(keys, headers, 'GET', '/v1/health', '')).toEqual({
      ok: true,
      keyId: 'local-1',
    });
    await expect(rotateSigningKeys(target, { newKeyId: 'local-2', graceHours: 1 })).rejects.toThrow(
      /already the current key/,
    );
  });
});
