// Producer side of the message contract (README "Message contract"): what the management
// server (and tools) use to enqueue messages. Everything is validated before it leaves the
// process: a message we know is poison is a bug here, not something for the consumer's DLQ to
// catch.
import {
  type BatchResultErrorEntry,
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mapSettled } from '../domain/pool.ts';
import { backoffMs, sleep } from '../domain/retry.ts';
import {
  Message,
  type MessageType,
  QUEUE_OF_TYPE,
  type ShardCreateData,
  type WorkspaceData,
} from './messages.ts';
import type { QueueName } from './names.ts';
import { describeIssues } from './zod.ts';

/** SQS limits for SendMessageBatch. */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 256 * 1024;
/** Attribute carrying the message type, so subscribers/filters need not parse bodies. */
export const TYPE_ATTRIBUTE = 'type';

export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
export type DataOf<T extends MessageType> = MessageOf<T>['data'];

export interface EnvelopeOptions {
  /** @default crypto.randomUUID() */
  id?: string;
  /** ISO-8601 UTC. @default now */
  occurredAt?: string;
}

/** Thrown before anything is sent: the message would be poison, or has nowhere to go. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
}

/** Thrown by `send` (single message) when the message could not be enqueued. */
export class SendFailedError extends Error {
  override readonly name = 'SendFailedError';
  constructor(
    readonly id: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function validate(candidate: unknown, label: string): Message {
  const parsed = Message.safeParse(candidate);
  if (!parsed.success) {
    throw new InvalidMessageError(`${label} is invalid: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Builds and validates a message envelope. Throws `InvalidMessageError` naming the field. */
export function createEnvelope<T extends MessageType>(
  type: T,
  data: DataOf<T>,
  opts: EnvelopeOptions = {},
): MessageOf<T> {
  return buildEnvelope(type, data, opts, `${type} message`);
}

function buildEnvelope<T extends MessageType>(
  type: T,
  data: DataOf<T>,
  opts: EnvelopeOptions,
  label: string,
): MessageOf<T> {
  const candidate = {
    type,
    version: 1,
    id: opts.id ?? crypto.randomUUID(),
    occurredAt: opts.occurredAt ?? new Date().toISOString(),
    data,
  };
  return validate(candidate, label) as MessageOf<T>;
}

export interface SentEntry {
  /** The envelope id. */
  id: string;
  /** SQS MessageId. */
  messageId: string;
  /** Position in the input array. */
  index: number;
}

export interface FailedEntry {
  id: string;
  /** SQS error code (`Failed[].Code`) or the SDK error name (the last one seen, after retries). */
  code: string;
  message: string;
  index: number;
  /** true when SQS rejected the entry itself (not retried). */
  senderFault: boolean;
}

export interface SendManyResult {
  sent: SentEntry[];
  failed: FailedEntry[];
}

export interface ShardControlProducerOptions {
  sqs?: SQSClient;
  queueUrls: Partial<Record<QueueName, string>>;
  /** Calls per batch, the first included. @default 5 */
  maxAttempts?: number;
  /** Backoff base (full jitter, doubling, capped at 5 s). @default 100 */
  baseDelayMs?: number;
  /** Batches in flight at once. @default 4 */
  concurrency?: number;
}

export interface ShardCreateOptions {
  /** @default now (one timestamp for the whole call) */
  occurredAt?: string;
  /** Deterministic event ids (e.g. for caller-side dedup). @default random UUIDs */
  idOf?: (location: ShardCreateData, index: number) => string;
}

export interface WorkspaceEvent {
  type: 'workspace.created' | 'workspace.deleted';
  data: WorkspaceData;
  occurredAt?: string;
  id?: string;
}

interface Prepared {
  index: number;
  message: Message;
  entry: SendMessageBatchRequestEntry;
  bytes: number;
}

const BACKOFF_CAP_MS = 5_000;
const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

// SQS counts the body plus each attribute's name, data type and value towards the size limits.
function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let total = 0;
  for (const [name, value] of Object.entries(attributes)) {
    total += utf8Bytes(name) + utf8Bytes(value.DataType ?? '') + utf8Bytes(value.StringValue ?? '');
  }
  return total;
}

const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
  'KmsThrottled',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Throttling, 5xx and network failures: the whole call may be retried. */
export function isRetryableCallError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  if (e.$retryable) return true;
  if (e.name && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: string; code?: string };
    if (e.code && NETWORK_CODES.has(e.code)) return e.code;
    if (e.name) return e.name;
  }
  return 'Error';
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class ShardControlProducer {
  readonly #sqs: SQSClient;
  readonly #queueUrls: Partial<Record<QueueName, string>>;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #concurrency: number;

  constructor(opts: ShardControlProducerOptions) {
    this.#sqs = opts.sqs ?? new SQSClient({});
    this.#queueUrls = { ...opts.queueUrls };
    this.#maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 5));
    this.#baseDelayMs = Math.max(0, opts.baseDelayMs ?? 100);
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  }

  /** One `shard.create` per business location. */
  async sendShardCreates(
    locations: readonly ShardCreateData[],
    opts: ShardCreateOptions = {},
  ): Promise<SendManyResult> {
    const occurredAt = opts.occurredAt ?? new Date().toISOString();
    const messages = locations.map((location, index) =>
      buildEnvelope(
        'shard.create',
        location,
        { occurredAt, id: opts.idOf?.(location, index) },
        `location #${index} (shard.create)`,
      ),
    );
    return this.sendMany(messages);
  }

  async sendWorkspaceEvents(events: readonly WorkspaceEvent[]): Promise<SendManyResult> {
    const messages = events.map((event, index) =>
      buildEnvelope(
        event.type,
        event.data,
        { occurredAt: event.occurredAt, id: event.id },
        `event #${index} (${event.type})`,
      ),
    );
    return this.sendMany(messages);
  }

  /** Sends one message; throws `SendFailedError` if it could not be enqueued. */
  async send(message: Message): Promise<{ id: string; messageId: string }> {
    const { sent, failed } = await this.sendMany([message]);
    const ok = sent[0];
    if (ok) return { id: ok.id, messageId: ok.messageId };
    const bad = failed[0];
    throw new SendFailedError(
      message.id,
      bad?.code ?? 'Unknown',
      `message ${message.id} was not sent: ${bad?.code ?? 'Unknown'}: ${bad?.message ?? ''}`,
    );
  }

  /**
   * Validates every message (throws before sending anything if one is invalid or its queue
   * has no URL), then sends them in batches per queue. Never throws for SQS failures: every
   * message ends up in exactly one of `sent` / `failed`, both in input order.
   */
  async sendMany(messages: readonly Message[]): Promise<SendManyResult> {
    const prepared = messages.map((message, index) => this.#prepare(message, index));
    const batches = this.#batch(prepared);
    const sent: SentEntry[] = [];
    const failed: FailedEntry[] = [];
    await mapSettled(batches, this.#concurrency, async ({ queueUrl, items }) => {
      const outcome = await this.#sendBatch(queueUrl, items);
      sent.push(...outcome.sent);
      failed.push(...outcome.failed);
    });
    sent.sort((a, b) => a.index - b.index);
    failed.sort((a, b) => a.index - b.index);
    return { sent, failed };
  }

  #prepare(message: Message, index: number): Prepared {
    const valid = validate(message, `message #${index} (${String(message?.type)})`);
    const queue = QUEUE_OF_TYPE[valid.type];
    if (!this.#queueUrls[queue]) {
      throw new InvalidMessageError(
        `message #${index} (${valid.type}): no queue URL configured for ${queue}`,
      );
    }
    const body = JSON.stringify(valid);
    const attributes: Record<string, MessageAttributeValue> = {
      [TYPE_ATTRIBUTE]: { DataType: 'String', StringValue: valid.type },
    };
    const bytes = utf8Bytes(body) + attributeBytes(attributes);
    if (bytes > MAX_BATCH_BYTES) {
      throw new InvalidMessageError(
        `message #${index} (${valid.type}) is ${bytes} bytes, above the SQS limit`,
      );
    }
    return {
      index,
      message: valid,
      // Batch entry ids allow only [A-Za-z0-9_-]{1,80}; the input index is unique and safe.
      entry: { Id: `m${index}`, MessageBody: body, MessageAttributes: attributes },
      bytes,
    };
  }

  /** Groups by destination queue, then packs in order: ≤ 10 entries and ≤ 256 KiB per batch. */
  #batch(prepared: readonly Prepared[]): Array<{ queueUrl: string; items: Prepared[] }> {
    const byQueue = new Map<string, Prepared[]>();
    for (const item of prepared) {
      const url = this.#queueUrls[QUEUE_OF_TYPE[item.message.type]] as string;
      const list = byQueue.get(url) ?? [];
      list.push(item);
      byQueue.set(url, list);
    }
    const batches: Array<{ queueUrl: string; items: Prepared[] }> = [];
    for (const [queueUrl, items] of byQueue) {
      let current: Prepared[] = [];
      let bytes = 0;
      for (const item of items) {
        if (
          current.length === MAX_BATCH_ENTRIES ||
          (current.length > 0 && bytes + item.bytes > MAX_BATCH_BYTES)
        ) {
          batches.push({ queueUrl, items: current });
          current = [];
          bytes = 0;
        }
        current.push(item);
        bytes += item.bytes;
      }
      if (current.length > 0) batches.push({ queueUrl, items: current });
    }
    return batches;
  }

  async #sendBatch(queueUrl: string, items: readonly Prepared[]): Promise<SendManyResult> {
    const sent: SentEntry[] = [];
    const failed: FailedEntry[] = [];
    const byEntryId = new Map(items.map((item) => [item.entry.Id as string, item]));
    let pending = [...items];
    let lastError = new Map<string, { code: string; message: string }>();

    for (let attempt = 1; pending.length > 0 && attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) {
        await sleep(backoffMs(attempt - 1, this.#baseDelayMs, BACKOFF_CAP_MS));
      }
      let response: {
        Successful?: { Id?: string; MessageId?: string }[];
        Failed?: BatchResultErrorEntry[];
      };
      try {
        response = await this.#sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: pending.map((item) => item.entry),
          }),
        );
      } catch (error) {
        const detail = { code: errorCode(error), message: errorText(error) };
        if (!isRetryableCallError(error)) {
          // Access denied, missing queue...: retrying cannot help.
          for (const item of pending) failed.push(toFailed(item, detail, false));
          pending = [];
          break;
        }
        lastError = new Map(pending.map((item) => [item.entry.Id as string, detail]));
        continue;
      }

      const settled = new Set<string>();
      for (const ok of response.Successful ?? []) {
        const item = ok.Id ? byEntryId.get(ok.Id) : undefined;
        if (!item || settled.has(ok.Id as string)) continue;
        settled.add(ok.Id as string);
        sent.push({ id: item.message.id, messageId: ok.MessageId ?? '', index: item.index });
      }
      const retry = new Map<string, { code: string; message: string }>();
      for (const bad of response.Failed ?? []) {
        const item = bad.Id ? byEntryId.get(bad.Id) : undefined;
        if (!item || settled.has(bad.Id as string)) continue;
        settled.add(bad.Id as string);
        const detail = { code: bad.Code ?? 'Unknown', message: bad.Message ?? '' };
        if (bad.SenderFault) failed.push(toFailed(item, detail, true));
        else retry.set(bad.Id as string, detail);
      }
      // An entry SQS did not mention at all is unknown, so it is retried.
      for (const item of pending) {
        const id = item.entry.Id as string;
        if (!settled.has(id)) {
          retry.set(id, { code: 'MissingFromResponse', message: 'entry absent from the response' });
        }
      }
      pending = pending.filter((item) => retry.has(item.entry.Id as string));
      lastError = retry;
    }

    for (const item of pending) {
      const last = lastError.get(item.entry.Id as string);
      // Keep SQS's own code: the caller may decide to retry later (these were all retryable).
      failed.push(
        toFailed(
          item,
          {
            code: last?.code ?? 'MaxAttemptsExceeded',
            message: `not sent after ${this.#maxAttempts} attempts${last ? `: ${last.message}` : ''}`,
          },
          false,
        ),
      );
    }
    return { sent, failed };
  }
}

function toFailed(
  item: Prepared,
  detail: { code: string; message: string },
  senderFault: boolean,
): FailedEntry {
  return { id: item.message.id, index: item.index, senderFault, ...detail };
}
