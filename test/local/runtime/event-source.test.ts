import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsEmulator } from '../../../local/emulators/sqs.ts';
import {
  type MappingSpec,
  SqsPoller,
  succeededIds,
  toSqsEvent,
} from '../../../local/runtime/event-source.ts';
import { type InvokeResult, LambdaPool } from '../../../local/runtime/lambda-pool.ts';

const FIXTURE = new URL('./fixtures/handlers.ts', import.meta.url).pathname;
const ok = (result: unknown): InvokeResult => ({ ok: true, result, durationMs: 1, requestId: 'r' });

describe('batch response rules (ReportBatchItemFailures)', () => {
  const ids = ['a', 'b', 'c'];
  it('treats null, empty and empty failures as full success', () => {
    for (const r of [null, undefined, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(succeededIds(ids, ok(r), true).succeeded).toEqual(ids);
    }
  });
  it('deletes all but the reported failures', () => {
    expect(succeededIds(ids, ok({ batchItemFailures: [{ itemIdentifier: 'b' }] }), true)).toEqual({
      succeeded: ['a', 'c'],
    });
  });
  it('fails the whole batch on an invalid response', () => {
    for (const r of [
      'yes',
      [],
      { batchItemFailures: 'b' },
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ itemIdentifier: null }] },
      { batchItemFailures: [{ id: 'b' }] },
      { batchItemFailures: [{ itemIdentifier: 'zzz' }] },
    ]) {
      const res = succeededIds(ids, ok(r), true);
      expect(res.succeeded).toEqual([]);
      expect(res.reason).toMatch(/invalid batch response/);
    }
  });
  it('without ReportBatchItemFailures any successful return deletes all', () => {
    expect(
      succeededIds(ids, ok({ batchItemFailures: [{ itemIdentifier: 'b' }] }), false).succeeded,
    ).toEqual(ids);
  });
  it('deletes nothing when the invocation failed', () => {
    const failed: InvokeResult = {
      ok: false,
      timedOut: false,
      durationMs: 1,
      requestId: 'r',
      error: { errorType: 'Error', errorMessage: 'x' },
    };
    expect(succeededIds(ids, failed, true).succeeded).toEqual([]);
  });
  it('builds records in the Lambda format', () => {
    const event = toSqsEvent(
      [
        {
          MessageId: 'm1',
          ReceiptHandle: 'rh',
          Body: '{}',
          MD5OfBody: 'md5',
          Attributes: {
            ApproximateReceiveCount: '3',
            SentTimestamp: '1',
            SenderId: 's',
            ApproximateFirstReceiveTimestamp: '2',
          },
          MessageAttributes: { failureReason: { DataType: 'String', StringValue: 'bad' } },
        },
      ],
      'arn:aws:sqs:us-east-1:000000000000:q',
      'us-east-1',
    );
    expect(event.Records[0]).toMatchObject({
      messageId: 'm1',
      receiptHandle: 'rh',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '3' },
      messageAttributes: {
        failureReason: {
          stringValue: 'bad',
          dataType: 'String',
          stringListValues: [],
          binaryListValues: [],
        },
      },
    });
  });
});

describe('SQS event source mapping against the SQS emulator', () => {
  let sqsEmu: Awaited<ReturnType<typeof startSqsEmulator>>;
  let sqs: SQSClient;
  const pools: LambdaPool[] = [];
  const pollers: SqsPoller[] = [];

  beforeAll(async () => {
    sqsEmu = await startSqsEmulator({ port: 0 });
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: sqsEmu.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    await Promise.all(pollers.map((p) => p.stop()));
    await Promise.all(pools.map((p) => p.stop()));
    sqs?.destroy();
    await sqsEmu?.stop();
  });

  /**
   * `visibilityTimeoutSeconds` short where a test waits for a redelivery, long where none is
   * expected (a slow machine must not cause one). `holdUntilConcurrent`: invocations wait until
   * that many are in flight, so reaching the cap does not depend on timing.
   */
  async function setup(
    name: string,
    opts: {
      timeoutSeconds?: number;
      batchSize?: number;
      visibilityTimeoutSeconds?: number;
      holdUntilConcurrent?: number;
    } = {},
  ) {
    const { timeoutSeconds = 5, batchSize = 10, visibilityTimeoutSeconds = 2 } = opts;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${name}-dlq`,
            maxReceiveCount: 5,
          }),
        },
      }),
    );
    const pool = new LambdaPool(
      {
        name,
        functionName: name,
        functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
        entry: FIXTURE,
        exportName: 'sqs',
        timeoutSeconds,
        memorySize: 128,
        env: { AWS_REGION: 'us-east-1' },
      },
      2,
      () => undefined,
    );
    pools.push(pool);
    // Started before the poller, so a cold start does not eat into the visibility timeout.
    await pool.invoke({ Records: [] });
    const coldStartsBefore = pool.stats.coldStarts;
    const events: SQSEvent[] = [];
    const concurrency = { now: 0, max: 0 };
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    if (!opts.holdUntilConcurrent) release();
    const spec: MappingSpec = {
      functionName: name,
      queueName: name,
      queueUrl: q.QueueUrl!,
      queueArn: `arn:aws:sqs:us-east-1:000000000000:${name}`,
      batchSize,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
    };
    const poller = new SqsPoller(spec, {
      sqs,
      region: 'us-east-1',
      waitTimeSeconds: 1,
      invoke: async (e) => {
        events.push(e);
        concurrency.max = Math.max(concurrency.max, ++concurrency.now);
        if (concurrency.now >= (opts.holdUntilConcurrent ?? 0)) release();
        await held;
        try {
          return await pool.invoke(e);
        } finally {
          concurrency.now--;
        }
      },
    });
    pollers.push(poller);
    const send = (body: string) =>
      sqs.send(new SendMessageCommand({ QueueUrl: q.QueueUrl!, MessageBody: body }));
    const deliveries = (body: string) =>
      events.flatMap((e) => e.Records).filter((r) => r.body === body);
    const depth = async (url = q.QueueUrl!) => {
      const a = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(a.Attributes?.ApproximateNumberOfMessages) +
        Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible)
      );
    };
    return {
      pool,
      poller,
      send,
      deliveries,
      depth,
      concurrency,
      coldStartsBefore,
      dlqUrl: dlq.QueueUrl!,
    };
  }

  it('partial batch failure: only the failed record is redelivered', async () => {
    const t = await setup('partial');
    await Promise.all([t.send('ok-1'), t.send('fail-2'), t.send('ok-3')]);
    t.poller.start();
    await expect
      .poll(() => t.deliveries('fail-2').length, { timeout: 10_000, interval: 100 })
      .toBeGreaterThanOrEqual(2);
    expect(t.deliveries('ok-1')).toHaveLength(1);
    expect(t.deliveries('ok-3')).toHaveLength(1);
    expect(t.deliveries('fail-2')[1]?.attributes.ApproximateReceiveCount).toBe('2');
    await t.poller.stop();
  });

  it.each([
    ['a thrown error deletes nothing: the whole batch comes back', 'throws', 'throw'],
    ['an invalid batch response fails the whole batch', 'invalid', 'invalid'],
  ] as const)('%s', async (_name, fixture, trigger) => {
    const t = await setup(fixture);
    await Promise.all([t.send('fine'), t.send(trigger)]);
    t.poller.start();
    await expect
      .poll(() => t.deliveries('fine').length, { timeout: 10_000, interval: 100 })
      .toBeGreaterThanOrEqual(2);
    expect(t.poller.stats.deleted).toBe(0);
    await t.poller.stop();
  });

  it('a timed-out invocation deletes nothing and recycles its worker', async () => {
    const t = await setup('timeout', { timeoutSeconds: 1 });
    await t.send('sleep:3000');
    t.poller.start();
    await expect.poll(() => t.pool.stats.timeouts, { timeout: 10_000, interval: 100 }).toBe(1);
    await expect
      .poll(() => t.deliveries('sleep:3000').length, { timeout: 10_000, interval: 100 })
      .toBeGreaterThanOrEqual(2);
    // The second delivery ran in a fresh sandbox: the timed-out one was thrown away.
    expect(t.pool.stats.coldStarts - t.coldStartsBefore).toBeGreaterThanOrEqual(1);
    expect(t.poller.stats.deleted).toBe(0);
    await t.poller.stop();
  });

  it('successful batches are deleted and the queue drains', async () => {
    const t = await setup('drain', { visibilityTimeoutSeconds: 60 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => t.send(`ok-${i}`)));
    t.poller.start();
    await expect.poll(() => t.poller.stats.deleted, { timeout: 10_000, interval: 100 }).toBe(25);
    expect(await t.depth()).toBe(0);
    await t.poller.stop();
    // The last batch settles (deletes done, bookkeeping) after the poll loops have stopped.
    await expect.poll(() => t.poller.inFlight, { timeout: 10_000 }).toBe(0);
  });

  it('respects batch size and MaximumConcurrency', async () => {
    const t = await setup('concurrency', {
      batchSize: 1,
      visibilityTimeoutSeconds: 60,
      holdUntilConcurrent: 2,
    });
    await Promise.all(Array.from({ length: 6 }, (_, i) => t.send(`sleep:400 ${i}`)));
    t.poller.start();
    await expect.poll(() => t.poller.stats.deleted, { timeout: 10_000, interval: 100 }).toBe(6);
    expect(t.poller.stats.batches).toBe(6);
    expect(t.concurrency.max).toBe(2);
    expect(t.pool.workers).toBeLessThanOrEqual(2);
    await t.poller.stop();
  });

  it('a sandbox killed mid-batch deletes nothing; the batch comes back after its visibility timeout', async () => {
    const t = await setup('killed');
    await t.send('sleep:800 killed');
    // The kill lands while the handler sleeps: the batch was received and is being processed.
    t.pool.killNextInvocation(200);
    t.poller.start();
    await expect.poll(() => t.pool.stats.kills, { timeout: 10_000, interval: 50 }).toBe(1);
    expect(t.poller.stats.deleted).toBe(0);
    await expect.poll(() => t.poller.stats.deleted, { timeout: 15_000, interval: 100 }).toBe(1);
    // A busy machine may let the 2 s visibility lapse once more during the fresh sandbox's start.
    const counts = t
      .deliveries('sleep:800 killed')
      .map((r) => r.attributes.ApproximateReceiveCount);
    expect(counts.slice(0, 2)).toEqual(['1', '2']);
    // The second delivery ran in a fresh sandbox: the killed one is gone.
    expect(t.pool.stats.coldStarts).toBeGreaterThanOrEqual(2);
    expect(t.pool.stats.kills).toBe(1);
    await t.poller.stop();
    await t.pool.stop();
  });
});
