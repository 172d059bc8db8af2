import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import {
  ChangeMessageVisibilityCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type Message, parseMessage } from '../contracts/messages.ts';
import { DEFAULT_RETRY_BASE_SECONDS, ENV, POISON_ATTRIBUTES } from '../contracts/names.ts';
import { errorMessage, isPermanent } from '../domain/errors.ts';
import { KeyedSerializer } from '../domain/pool.ts';
import { retryVisibilitySeconds } from '../domain/retry.ts';
import { requireEnv } from './env.ts';
import { logger, MetricUnit, mapStackOnError, metrics } from './observability.ts';

export interface SqsConsumerOptions<M extends Message, B = undefined> {
  /** Message types this queue carries; anything else is poison. */
  accept: readonly M['type'][];
  /** Records with the same key run one after another within a batch. */
  keyOf: (message: M) => string;
  /** What the records of one invocation share (reads of the same shard, say): new per batch. */
  batch?: () => B;
  process: (message: M, record: SQSRecord, context: Context, batch: B) => Promise<void>;
  sqs?: SQSClient;
  /** Draws the retry jitter; tests pin it. @default Math.random */
  random?: () => number;
}

/** SQS allows 10 message attributes; the two poison ones must fit. */
const MAX_KEPT_ATTRIBUTES = 8;

/**
 * The SQS consumer every queue-driven function shares: parse, route poison to the DLQ with a
 * reason (and acknowledge it), run valid records with per-key ordering, and on a transient
 * failure set the record's visibility timeout along the retry ladder (capped exponential
 * backoff with full jitter, by receive count) before reporting it in `batchItemFailures`. Valid records in the same batch are never affected by a bad one.
 */
export function createSqsConsumer<M extends Message, B = undefined>(
  options: SqsConsumerOptions<M, B>,
) {
  const sqs = options.sqs ?? new SQSClient({});
  const dlqUrl = requireEnv(ENV.dlqUrl);
  const sourceQueueUrl = requireEnv(ENV.sourceQueueUrl);
  // A typo must not turn every retry into an immediate one: fall back to the default base.
  const configuredBase = Number(process.env[ENV.retryBaseSeconds]);
  const retryBaseSeconds =
    Number.isFinite(configuredBase) && configuredBase > 0
      ? configuredBase
      : DEFAULT_RETRY_BASE_SECONDS;
  const random = options.random ?? Math.random;
  const processor = new BatchProcessor(EventType.SQS);
  const serializer = new KeyedSerializer();

  async function sendToDlq(record: SQSRecord, reason: string) {
    const kept: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(record.messageAttributes ?? {}).slice(
      0,
      MAX_KEPT_ATTRIBUTES,
    )) {
      if (name === POISON_ATTRIBUTES.reason || name === POISON_ATTRIBUTES.at) continue;
      kept[name] = value.binaryValue
        ? { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') }
        : { DataType: value.dataType, StringValue: value.stringValue };
    }
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: record.body,
        MessageAttributes: {
          ...kept,
          [POISON_ATTRIBUTES.reason]: { DataType: 'String', StringValue: reason.slice(0, 1024) },
          [POISON_ATTRIBUTES.at]: { DataType: 'String', StringValue: new Date().toISOString() },
        },
      }),
    );
    metrics.addMetric('PoisonMessages', MetricUnit.Count, 1);
    logger.warn('poison message moved to the DLQ', {
      messageId: record.messageId,
      failureReason: reason,
    });
  }

  async function delayRetry(record: SQSRecord, error: unknown) {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? 1);
    const visibility = retryVisibilitySeconds(receiveCount, retryBaseSeconds, random);
    metrics.addMetric('RecordsRetried', MetricUnit.Count, 1);
    // The retry alarm watches this: SQS's age-of-oldest-message metric leaves out messages
    // received three times or more, so it cannot see a record stuck on the ladder.
    metrics.addMetric('RetriedReceiveCount', MetricUnit.Count, receiveCount);
    logger.warn('record failed; SQS will redeliver it', {
      messageId: record.messageId,
      receiveCount,
      retryInSeconds: visibility,
      error: errorMessage(error),
      errorName: error instanceof Error ? error.name : undefined,
    });
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: sourceQueueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: visibility,
        }),
      );
    } catch (visibilityError) {
      // Not fatal: the record still comes back, after the queue's own visibility timeout.
      logger.warn('could not lengthen the visibility timeout', {
        error: errorMessage(visibilityError),
      });
    }
  }

  async function handleRecord(record: SQSRecord, context: Context, batch: B): Promise<void> {
    const parsed = parseMessage<M>(record.body, options.accept);
    if (!parsed.ok) return sendToDlq(record, parsed.reason);
    const message = parsed.message;
    await serializer.run(options.keyOf(message), async () => {
      try {
        await options.process(message, record, context, batch);
        metrics.addMetric('RecordsProcessed', MetricUnit.Count, 1);
      } catch (error) {
        if (isPermanent(error)) return sendToDlq(record, errorMessage(error));
        await delayRetry(record, error);
        throw error;
      }
    });
  }

  const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const batch = options.batch?.() as B;
    return processPartialResponse(
      event,
      (record: SQSRecord) => handleRecord(record, context, batch),
      processor,
      {
        context,
        throwOnFullBatchFailure: false,
      },
    );
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(mapStackOnError());

  return handler;
}
