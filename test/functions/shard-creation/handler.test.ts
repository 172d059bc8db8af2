import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HandlerEnv, startHandlerEnv, TEST_SECRETS } from '../../support/handler-env.ts';
import { type Responder, startScriptedServer } from '../../support/scripted-server.ts';

type Handler = (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;

let env: HandlerEnv;
let handler: Handler;
let proxy: Awaited<ReturnType<typeof startScriptedServer>>;
const logLines: string[] = [];
let n = 0;

/** Citrus answers 500 to the registration of this business; everything else goes through. */
const BROKEN_BUSINESS = 'biz-citrus-500';
const REJECTED_BUSINESS = 'biz-citrus-400';

function shardCreate(
  businessId: string,
  locationId: string,
  businessType = 'restaurant',
  id = `evt-${++n}`,
) {
  return JSON.stringify({
    type: 'shard.create',
    version: 1,
    id,
    occurredAt: '2026-11-22T10:00:00.000Z',
    data: { businessId, locationId, businessType },
  });
}

beforeAll(async () => {
  env = await startHandlerEnv('shard-creation', 'shard-creation');
  const forward: Responder = async (req, res) => {
    const body = req.body ? JSON.parse(req.body) : undefined;
    if (req.url === '/api/register' && body?.businessId === BROKEN_BUSINESS) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
      return;
    }
    if (req.url === '/api/register' && body?.businessId === REJECTED_BUSINESS) {
      res
        .writeHead(422, { 'content-type': 'application/json' })
        .end('{"error":"unknown business type"}');
      return;
    }
    const upstream = await fetch(new URL(req.url, env.fleet.citrus.url), {
      method: req.method,
      headers: {
        authorization: String(req.headers.authorization ?? ''),
        'content-type': 'application/json',
      },
      body: req.body || undefined,
    });
    res
      .writeHead(upstream.status, { 'content-type': 'application/json' })
      .end(await upstream.text());
  };
  proxy = await startScriptedServer(forward);
  await env.setCitrusUrl(proxy.url);
  // Capture (and silence) the function's log lines: the secrets test reads them.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    logLines.push(String(chunk));
    return true;
  });
  ({ handler } = (await import('../../../functions/shard-creation/handler.ts')) as unknown as {
    handler: Handler;
  });
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await proxy?.stop();
  await env?.stop();
});

/**
 * Deletes a record that failed (and so comes back after its retry delay, at most 1 s here) as
 * soon as it is visible again, so that later tests' batches hold only their own messages.
 */
async function takeBack(body: string) {
  const { ReceiveMessageCommand, DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { Messages = [] } = await env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const mine = Messages.find((m) => m.Body === body);
    expect(Messages.filter((m) => m !== mine)).toEqual([]);
    if (mine) {
      await env.sqs.send(
        new DeleteMessageCommand({ QueueUrl: env.queueUrl, ReceiptHandle: mine.ReceiptHandle }),
      );
      return;
    }
  }
  throw new Error('the failed record did not come back within 15 s');
}

async function items() {
  const { Items = [] } = await env.ddb.send(new ScanCommand({ TableName: env.tableName }));
  return Items;
}

describe('shard-creation handler', () => {
  it('handles a mixed batch: poison to the DLQ, Citrus 500 retried, the rest recorded and pushed', async () => {
    const offline = env.fleet.nodes[0]!;
    offline.setFaults({ down: true });
    const valid = Array.from({ length: 8 }, (_, i) =>
      shardCreate(`biz-${i}`, `loc-${i}`, i % 2 ? 'cafe' : 'retail'),
    );
    const poison = JSON.stringify({
      type: 'shard.create',
      version: 1,
      id: 'bad-1',
      occurredAt: '2026-11-22T10:00:00.000Z',
      data: { businessId: 'biz-x' },
    });
    const broken = shardCreate(BROKEN_BUSINESS, 'loc-1');
    const event = await env.eventOf([poison, broken, ...valid]);
    const brokenRecord = event.Records.find((r) => r.body === broken)!;

    const response = await handler(event, env.context());
    offline.setFaults({});

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: brokenRecord.messageId }]);
    const dlq = await env.dlqMessages();
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.body).toBe(poison);
    expect(dlq[0]?.attributes.failureReason).toBe(
      'invalid shard.create: data.locationId: Invalid input: expected string, received undefined; data.businessType: Invalid input: expected string, received undefined',
    );
    expect(Date.parse(dlq[0]?.attributes.failedAt ?? '')).not.toBeNaN();

    const records = await items();
    const locations = records.filter(
      (i) => i.pk?.S?.startsWith('LOC#biz-') && i.status?.S === 'active',
    );
    expect(locations).toHaveLength(8);
    for (let i = 0; i < 8; i++) {
      const location = locations.find((l) => l.pk?.S === `LOC#biz-${i}#loc-${i}`);
      const shardId = location?.shardId?.S as string;
      for (const node of env.fleet.nodesOf(shardId)) {
        const has = node.state.schemas.has(`biz-${i}#loc-${i}`);
        expect(has, `${node.nodeId} holds biz-${i}`).toBe(node !== offline);
      }
    }
    const offlineRecord = records.find((i) => i.sk?.S === `NODE#${offline.nodeId}`);
    // Placement is deterministic: some of the 8 land on the offline node's shard.
    expect(locations.some((l) => env.fleet.nodesOf(l.shardId?.S as string).includes(offline))).toBe(
      true,
    );
    expect(offlineRecord?.status?.S).toBe('pending_sync');
    expect(offlineRecord?.workPk?.S).toBe('node#pending_sync');
    const broken500 = records.find((i) => i.pk?.S === `LOC#${BROKEN_BUSINESS}#loc-1`);
    expect(broken500?.status?.S).toBe('registering');
    expect(broken500?.claimedBy).toBeUndefined();
    await takeBack(broken);
  });

  it('registers a location with Citrus once, whatever the message ids', async () => {
    const before = env.fleet.citrus.registrations;
    const body = (id: string) => shardCreate('biz-dup', 'loc-dup', 'restaurant', id);
    const first = await handler(await env.eventOf([body('dup-a'), body('dup-b')]), env.context());
    const second = await handler(await env.eventOf([body('dup-c')]), env.context());
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(env.fleet.citrus.registrations - before).toBe(1);
  });

  it('poisons a location Citrus rejects, and marks it failed', async () => {
    const body = shardCreate(REJECTED_BUSINESS, 'loc-1');
    const response = await handler(await env.eventOf([body]), env.context());
    expect(response.batchItemFailures).toEqual([]);
    const [dead] = await env.dlqMessages();
    expect(dead?.body).toBe(body);
    expect(dead?.attributes.failureReason).toMatch(
      /Citrus register failed: POST .*\/api\/register answered 422: unknown business type/,
    );
    const record = (await items()).find((i) => i.pk?.S === `LOC#${REJECTED_BUSINESS}#loc-1`);
    expect(record?.status?.S).toBe('failed');
  });

  it('lengthens the visibility timeout of a retried record', async () => {
    const event = await env.eventOf([shardCreate(BROKEN_BUSINESS, 'loc-2')]);
    // The jitter draw at its top: RETRY_BASE_SECONDS=1 and receive count 1 give the full 1 s.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const response = await handler(event, env.context()).finally(() => random.mockRestore());
    expect(response.batchItemFailures).toHaveLength(1);
    // RETRY_BASE_SECONDS=1 and receive count 1: visible again after ~1 s, not the queue's 30 s.
    // Long polls return as soon as it is; other tests' retried records may come back too.
    const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
    const id = event.Records[0]!.messageId;
    const deadline = Date.now() + 20_000;
    let again: Message | undefined;
    while (!again && Date.now() < deadline) {
      const { Messages = [] } = await env.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: env.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 5,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      again = Messages.find((m) => m.MessageId === id);
    }
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('never writes a secret to logs, DynamoDB or the DLQ', async () => {
    const dlq = await env.dlqMessages();
    const everything = [
      logLines.join('\n'),
      JSON.stringify(await items()),
      JSON.stringify(dlq),
    ].join('\n');
    expect(logLines.length).toBeGreaterThan(5);
    // The Citrus simulator's connection strings carry `local-citrus-db-secret`.
    for (const secret of [...Object.values(TEST_SECRETS), 'local-citrus-db-secret']) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/postgres:\/\//);
  });
});
