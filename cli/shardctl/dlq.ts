// Dead-letter queue operations: list, peek, whole-queue redrive (SQS message move tasks),
// selective replay and purge. Replay sends first and deletes second: a crash in between
// duplicates a message at worst (handlers are idempotent) and never loses one.
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  dlqName,
  POISON_ATTRIBUTES,
  QUEUES,
  type QueueName,
  SCHEDULE_DLQ,
} from '../../shared/contracts/names.ts';
import { DEFAULT_MAX_REPLAYS, DLQS } from './dlqs.ts';
import type { Target } from './target.ts';

export { DEFAULT_MAX_REPLAYS, DLQS };

/** The queue whose messages a DLQ holds; the schedule's DLQ has none to replay into. */
export function sourceOf(dlq: string): QueueName {
  const source = QUEUES.find((q) => dlqName(q) === dlq);
  if (!source) {
    throw new Error(
      dlq === SCHEDULE_DLQ
        ? `${SCHEDULE_DLQ} holds failed schedule invocations: inspect them with peek; the next sweep supersedes them`
        : `unknown DLQ ${dlq}; one of ${DLQS.join(', ')}`,
    );
  }
  return source;
}

/** Counted on every replay: a message replayed this often and failing again is left alone. */
export const REPLAY_COUNT_ATTRIBUTE = 'replayCount';

/** A queue's depth from its SQS attributes (approximate, as SQS says). */
export async function queueDepth(target: Target, name: string) {
  const { Attributes = {} } = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: await target.queueUrl(name),
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return {
    name,
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

export async function listDlqs(target: Target) {
  return Promise.all(
    DLQS.map(async (name) => {
      const { delayed: _delayed, ...depth } = await queueDepth(target, name);
      return depth;
    }),
  );
}

/**
 * The age of the oldest of up to 10 messages of a DLQ, from their `SentTimestamp`, read with
 * visibility timeout 0 so that nothing is hidden. Exact when the DLQ holds at most 10 messages;
 * otherwise a lower bound (SQS has no order to ask for). Only for DLQs: a receive on a source
 * queue would count against the message's maxReceiveCount.
 */
export async function oldestSampledAge(target: Target, dlq: string, now = Date.now()) {
  const { Messages = [] } = await target.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: await target.queueUrl(dlq),
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 0,
      MessageSystemAttributeNames: ['SentTimestamp'],
    }),
  );
  const sent = Messages.map((m) => Number(m.Attributes?.SentTimestamp)).filter(Number.isFinite);
  if (!sent.length) return undefined;
  return {
    seconds: Math.max(0, Math.round((now - Math.min(...sent)) / 1000)),
    sampled: sent.length,
  };
}

/** Deletes every message of a DLQ (SQS PurgeQueue; AWS allows one purge a minute). */
export async function purgeDlq(target: Target, dlq: string) {
  if (!(DLQS as readonly string[]).includes(dlq))
    throw new Error(`unknown DLQ ${dlq}; one of ${DLQS.join(', ')}`);
  const before = await queueDepth(target, dlq);
  await target.sqs.send(new PurgeQueueCommand({ QueueUrl: await target.queueUrl(dlq) }));
  return { dlq, purged: before.visible + before.inFlight + before.delayed };
}

export interface DeadLetter {
  messageId: string;
  body: string;
  type?: string;
  businessId?: string;
  workspaceId?: string;
  shardId?: string;
  failureReason?: string;
  failedAt?: string;
  /** When SQS first received the message (for a message SQS moved here: on its source queue). */
  sentAt?: string;
  receiveCount: number;
  /** How often shardctl has replayed it already. */
  replayCount: number;
}

function describe(message: Message): DeadLetter {
  let parsed: { type?: unknown; data?: Record<string, unknown> } = {};
  try {
    parsed = JSON.parse(message.Body ?? '');
  } catch {
    // Bad JSON is a reason messages land here; show it as it is.
  }
  const field = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    messageId: message.MessageId ?? '',
    body: message.Body ?? '',
    type: field(parsed?.type),
    businessId: field(parsed?.data?.businessId),
    workspaceId: field(parsed?.data?.workspaceId),
    shardId: field(parsed?.data?.shardId),
    failureReason: message.MessageAttributes?.[POISON_ATTRIBUTES.reason]?.StringValue,
    failedAt: message.MessageAttributes?.[POISON_ATTRIBUTES.at]?.StringValue,
    sentAt: message.Attributes?.SentTimestamp
      ? new Date(Number(message.Attributes.SentTimestamp)).toISOString()
      : undefined,
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    replayCount: Number(message.MessageAttributes?.[REPLAY_COUNT_ATTRIBUTE]?.StringValue ?? 0) || 0,
  };
}

export interface ReplayFilter {
  type?: string;
  businessId?: string;
  workspaceId?: string;
  shardId?: string;
  /** On `failedAt`; a message SQS moved here after its retries has none: its `sentAt` counts. */
  since?: Date;
  until?: Date;
  /** A substring of `failureReason`, any case. */
  reason?: string;
}

function matches(letter: DeadLetter, filter: ReplayFilter) {
  const failed = Date.parse(letter.failedAt ?? letter.sentAt ?? '');
  return (
    (!filter.type || letter.type === filter.type) &&
    (!filter.businessId || letter.businessId === filter.businessId) &&
    (!filter.workspaceId || letter.workspaceId === filter.workspaceId) &&
    (!filter.shardId || letter.shardId === filter.shardId) &&
    (!filter.since || failed >= filter.since.getTime()) &&
    (!filter.until || failed < filter.until.getTime()) &&
    (!filter.reason ||
      (letter.failureReason ?? '').toLowerCase().includes(filter.reason.toLowerCase()))
  );
}

export interface ReplayOptions {
  filter?: ReplayFilter;
  limit?: number;
  dryRun?: boolean;
  /**
   * Loop guard: a matching message already replayed this many times is left in the DLQ and
   * reported, so a message that keeps failing does not circle for ever.
   */
  maxReplays?: number;
  /** How long messages stay hidden while the walk is under way. */
  holdSeconds?: number;
  onProgress?: (progress: { scanned: number; matched: number; replayed: number }) => void;
}

/**
 * Walks a DLQ once. Messages it looks at stay invisible during the walk (so none is seen
 * twice) and every message it does not replay is made visible again at the end. `peek` is a
 * dry run without a filter.
 */
export async function replay(target: Target, dlq: string, options: ReplayOptions = {}) {
  const source = options.dryRun ? undefined : sourceOf(dlq);
  const dlqUrl = await target.queueUrl(dlq);
  const sourceUrl = source && (await target.queueUrl(source));
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const held: Array<{ Id: string; ReceiptHandle: string }> = [];
  const letters: DeadLetter[] = [];
  const looping: DeadLetter[] = [];
  const maxReplays = options.maxReplays ?? DEFAULT_MAX_REPLAYS;
  const progress = { scanned: 0, matched: 0, replayed: 0 };
  try {
    while (progress.matched < limit) {
      const { Messages = [] } = await target.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: options.holdSeconds ?? 120,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        progress.scanned++;
        const letter = describe(message);
        const handle = message.ReceiptHandle as string;
        if (progress.matched >= limit || !matches(letter, options.filter ?? {})) {
          held.push({ Id: String(held.length), ReceiptHandle: handle });
          continue;
        }
        if (letter.replayCount >= maxReplays) {
          looping.push(letter);
          held.push({ Id: String(held.length), ReceiptHandle: handle });
          continue;
        }
        progress.matched++;
        letters.push(letter);
        if (!sourceUrl) {
          held.push({ Id: String(held.length), ReceiptHandle: handle });
          continue;
        }
        await target.sqs.send(
          new SendMessageCommand({
            QueueUrl: sourceUrl,
            MessageBody: letter.body,
            MessageAttributes: {
              ...keptAttributes(message),
              [REPLAY_COUNT_ATTRIBUTE]: {
                DataType: 'Number',
                StringValue: String(letter.replayCount + 1),
              },
            },
          }),
        );
        await target.sqs.send(
          new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: handle }),
        );
        progress.replayed++;
      }
      options.onProgress?.({ ...progress });
    }
  } finally {
    for (let i = 0; i < held.length; i += 10) {
      await target.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: dlqUrl,
          Entries: held
            .slice(i, i + 10)
            .map((h, j) => ({ ...h, Id: String(j), VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return { ...progress, letters, looping };
}

/** The message's own attributes, without the ones the DLQ added. */
function keptAttributes(message: Message): Record<string, MessageAttributeValue> | undefined {
  const kept = Object.entries(message.MessageAttributes ?? {}).filter(
    ([name]) => name !== POISON_ATTRIBUTES.reason && name !== POISON_ATTRIBUTES.at,
  );
  return kept.length ? Object.fromEntries(kept) : undefined;
}

async function queueArn(target: Target, name: string): Promise<string> {
  const { Attributes } = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: await target.queueUrl(name),
      AttributeNames: ['QueueArn'],
    }),
  );
  if (!Attributes?.QueueArn) throw new Error(`no ARN for queue ${name}`);
  return Attributes.QueueArn;
}

/** Whole-queue redrive back to the source queue, by SQS itself (StartMessageMoveTask). */
export async function startRedrive(target: Target, dlq: string, maxPerSecond?: number) {
  sourceOf(dlq);
  const { TaskHandle } = await target.sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: await queueArn(target, dlq),
      MaxNumberOfMessagesPerSecond: maxPerSecond,
    }),
  );
  return TaskHandle;
}

export async function redriveTasks(target: Target, dlq: string) {
  const { Results = [] } = await target.sqs.send(
    new ListMessageMoveTasksCommand({ SourceArn: await queueArn(target, dlq), MaxResults: 10 }),
  );
  return Results;
}

export async function cancelRedrive(target: Target, dlq: string) {
  const running = (await redriveTasks(target, dlq)).find((t) => t.Status === 'RUNNING');
  if (!running?.TaskHandle) throw new Error(`no running redrive task on ${dlq}`);
  await target.sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: running.TaskHandle }));
  return running.TaskHandle;
}
