// Dead-letter queue operations: list, peek, whole-queue redrive (SQS message move tasks) and
// selective replay. Replay sends first and deletes second: a crash in between duplicates a
// message at worst (handlers are idempotent) and never loses one.
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
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
import type { Target } from './target.ts';

export const DLQS = [...QUEUES.map(dlqName), SCHEDULE_DLQ] as const;

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

export async function listDlqs(target: Target) {
  return Promise.all(
    DLQS.map(async (name) => {
      const url = await target.queueUrl(name);
      const { Attributes = {} } = await target.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        name,
        visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    }),
  );
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
  receiveCount: number;
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
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
  };
}

export interface ReplayFilter {
  type?: string;
  businessId?: string;
  workspaceId?: string;
  shardId?: string;
}

const matches = (letter: DeadLetter, filter: ReplayFilter) =>
  (!filter.type || letter.type === filter.type) &&
  (!filter.businessId || letter.businessId === filter.businessId) &&
  (!filter.workspaceId || letter.workspaceId === filter.workspaceId) &&
  (!filter.shardId || letter.shardId === filter.shardId);

export interface ReplayOptions {
  filter?: ReplayFilter;
  limit?: number;
  dryRun?: boolean;
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
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
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
            MessageAttributes: keptAttributes(message),
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
  return { ...progress, letters };
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
