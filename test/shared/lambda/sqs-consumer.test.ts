import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ShardCreateMessage } from '../../../shared/contracts/messages.ts';
import { PermanentError, TransientError } from '../../../shared/domain/errors.ts';
import { consumerTestEnv } from '../../support/consumer-env.ts';

const sqs = mockClient(SQSClient);
const DLQ = 'https://sqs.us-east-1.amazonaws.com/1/shard-creation-dlq';
const SOURCE = 'https://sqs.us-east-1.amazonaws.com/1/shard-creation';
const work = vi.fn<(message: ShardCreateMessage, batch: { invocation: number }) => Promise<void>>();
let invocations = 0;
/** The retry jitter draw the consumer sees. */
let draw = 0.5;
let handler: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;

const body = (businessId: string) =>
  JSON.stringify({
    type: 'shard.create',
    version: 1,
    id: `e-${businessId}`,
    occurredAt: '2026-11-22T10:00:00.000Z',
    data: { businessId, locationId: 'l1', businessType: 'retail' },
  });

function record(messageId: string, recordBody: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: recordBody,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 's',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {
      traceparent: {
        dataType: 'String',
        stringValue: 't-1',
        stringListValues: [],
        binaryListValues: [],
      },
    },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:shard-creation',
    awsRegion: 'us-east-1',
  };
}

const context = {
  functionName: 'shard-creation',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

beforeAll(async () => {
  Object.assign(process.env, consumerTestEnv('shard-creation'));
  const { createSqsConsumer } = await import('../../../shared/lambda/sqs-consumer.ts');
  handler = createSqsConsumer<ShardCreateMessage, { invocation: number }>({
    accept: ['shard.create'],
    keyOf: (m) => m.data.businessId,
    batch: () => ({ invocation: ++invocations }),
    process: (m, _record, _context, batch) => work(m, batch),
    sqs: new SQSClient({ region: 'us-east-1' }),
    random: () => draw,
  }) as unknown as typeof handler;
});

beforeEach(() => {
  sqs.reset();
  draw = 0.5;
  work.mockReset();
  work.mockResolvedValue(undefined);
});

describe('createSqsConsumer (SQS mocked)', () => {
  it('moves poison to the DLQ with its reason and original attributes, and acknowledges it', async () => {
    const response = await handler(
      { Records: [record('bad', '{"type":"nope"}'), record('ok', body('b1'))] },
      context,
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({
      QueueUrl: DLQ,
      MessageBody: '{"type":"nope"}',
      MessageAttributes: {
        failureReason: { DataType: 'String', StringValue: 'unknown message type "nope"' },
        traceparent: { DataType: 'String', StringValue: 't-1' },
      },
    });
    expect(Date.parse(sent?.MessageAttributes?.failedAt?.StringValue ?? '')).not.toBeNaN();
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('gives the records of one invocation one batch scope, and each invocation its own', async () => {
    const scopes = () => work.mock.calls.map(([, batch]) => batch);
    await handler({ Records: ['b1', 'b2', 'b3'].map((b) => record(b, body(b))) }, context);
    const [first] = scopes();
    expect(scopes()).toHaveLength(3);
    expect(scopes().every((scope) => scope === first)).toBe(true);
    await handler({ Records: [record('b4', body('b4'))] }, context);
    expect(scopes()[3]).not.toBe(first);
    expect(scopes()[3]?.invocation).toBe((first?.invocation ?? 0) + 1);
  });

  it('never acknowledges poison it could not park in the DLQ (nothing is lost)', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    const response = await handler(
      { Records: [record('bad', 'not json'), record('ok', body('b1'))] },
      context,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
  });

  it('turns a permanent processing error into poison', async () => {
    work.mockRejectedValueOnce(new PermanentError('Citrus register failed: 422'));
    const response = await handler({ Records: [record('m1', body('b1'))] }, context);
    expect(response.batchItemFailures).toEqual([]);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: DLQ,
      MessageAttributes: expect.objectContaining({
        failureReason: { DataType: 'String', StringValue: 'Citrus register failed: 422' },
      }),
    });
  });

  it('reports a transient failure and sets its visibility along the jittered ladder', async () => {
    // Third receive at base 30 s: ceiling 4 x 30 = 120 s, the delay a draw within it.
    for (const [d, seconds] of [
      [0.999, 120],
      [0.25, 30],
      [0, 0],
    ] as const) {
      sqs.reset();
      draw = d;
      work.mockRejectedValueOnce(new TransientError('Citrus unavailable'));
      const response = await handler(
        { Records: [record('m1', body('b1'), 3), record('m2', body('b2'))] },
        context,
      );
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
      expect(sqs).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 1);
      expect(sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, {
        QueueUrl: SOURCE,
        ReceiptHandle: 'rh-m1',
        VisibilityTimeout: seconds,
      });
    }
  });

  it('caps the retry delay at 30 base delays however often the record failed', async () => {
    draw = 0.9999;
    work.mockRejectedValueOnce(new TransientError('Citrus unavailable'));
    await handler({ Records: [record('m1', body('b1'), 60)] }, context);
    expect(sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, {
      VisibilityTimeout: 900,
    });
  });

  it('still reports the failure when the visibility change fails', async () => {
    work.mockRejectedValueOnce(new TransientError('Citrus unavailable'));
    sqs.on(ChangeMessageVisibilityCommand).rejects(new Error('ReceiptHandleIsInvalid'));
    const response = await handler({ Records: [record('m1', body('b1'))] }, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });

  it('runs records of one key one after another, and other keys side by side', async () => {
    const log: string[] = [];
    work.mockImplementation(async (m) => {
      log.push(`start ${m.id}`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`end ${m.id}`);
    });
    const same = (id: string) => JSON.stringify({ ...JSON.parse(body('b1')), id });
    await handler(
      { Records: [record('a', same('a1')), record('b', same('a2')), record('c', body('b2'))] },
      context,
    );
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start e-b2')).toBeLessThan(log.indexOf('end a1'));
  });
});
