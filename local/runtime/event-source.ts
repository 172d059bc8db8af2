// Local emulation of a Lambda SQS event source mapping: several pollers long-poll at once (as
// Lambda starts with five), each batches (size + window) and invokes, with at most
// MaximumConcurrency batches being collected or invoked, then deletes what succeeded.
// Failed records are left alone so SQS redelivers them after the visibility timeout and,
// after maxReceiveCount receives, moves them to the DLQ: exactly what AWS does.
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { InvokeResult } from './lambda-pool.ts';

export interface MappingSpec {
  /** Function short name (for logs). */
  functionName: string;
  queueName: string;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency; AWS's minimum is 2. */
  maxConcurrency: number;
  reportBatchItemFailures: boolean;
  enabled?: boolean;
}

export interface PollerOptions {
  sqs: SQSClient;
  /** Receive loops; default min(LAMBDA_INITIAL_POLLERS, MaximumConcurrency). */
  pollers?: number;
  invoke: (event: SQSEvent) => Promise<InvokeResult>;
  region: string;
  /** Long-poll wait; shorter than AWS's 20 s only to make shutdown quick. */
  waitTimeSeconds?: number;
  log?: (line: string) => void;
  /** Called after every batch, with what happened to it. */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface BatchOutcome {
  functionName: string;
  queueName: string;
  records: number;
  deleted: number;
  failed: number;
  error?: string;
}

export function toLambdaAttributes(
  attrs: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = {
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') }
        : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: v.DataType ?? 'String',
    };
  }
  return out;
}

/** The SQSEvent Lambda would deliver for these received messages. */
export function toSqsEvent(messages: Message[], queueArn: string, region: string): SQSEvent {
  return {
    Records: messages.map((m): SQSRecord => {
      const a = m.Attributes ?? {};
      const attributes: SQSRecord['attributes'] = {
        ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
        SentTimestamp: a.SentTimestamp ?? String(Date.now()),
        SenderId: a.SenderId ?? 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      };
      for (const key of ['AWSTraceHeader', 'SequenceNumber', 'MessageGroupId'] as const) {
        const v = a[key];
        if (v !== undefined) attributes[key] = v;
      }
      if (a.MessageDeduplicationId !== undefined) {
        attributes.MessageDeduplicationId = a.MessageDeduplicationId;
      }
      if (a.DeadLetterQueueSourceArn !== undefined) {
        attributes.DeadLetterQueueSourceArn = a.DeadLetterQueueSourceArn;
      }
      return {
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes,
        messageAttributes: toLambdaAttributes(m.MessageAttributes),
        md5OfBody: m.MD5OfBody ?? '',
        ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: region,
      };
    }),
  };
}

/**
 * Which message ids succeeded, given the invocation outcome. Mirrors AWS's rules for
 * ReportBatchItemFailures: null/empty response or empty/null `batchItemFailures` is full
 * success; an unparseable response or an item identifier that is empty, missing or not in
 * the batch fails the whole batch.
 */
export function succeededIds(
  ids: string[],
  outcome: InvokeResult,
  reportBatchItemFailures: boolean,
): { succeeded: string[]; reason?: string } {
  if (!outcome.ok) {
    return { succeeded: [], reason: `${outcome.error.errorType}: ${outcome.error.errorMessage}` };
  }
  if (!reportBatchItemFailures) return { succeeded: ids };
  const res = outcome.result;
  if (res === null || res === undefined) return { succeeded: ids };
  if (typeof res !== 'object' || Array.isArray(res)) {
    return { succeeded: [], reason: 'invalid batch response (not an object)' };
  }
  const failures = (res as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { succeeded: ids };
  if (!Array.isArray(failures)) {
    return { succeeded: [], reason: 'invalid batch response (batchItemFailures not a list)' };
  }
  const failed = new Set<string>();
  for (const item of failures) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.includes(id)) {
      return {
        succeeded: [],
        reason: `invalid batch response (itemIdentifier ${JSON.stringify(id)})`,
      };
    }
    failed.add(id);
  }
  return { succeeded: ids.filter((id) => !failed.has(id)) };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Lambda's SQS event source starts with this many pollers and scales up with the backlog. */
export const LAMBDA_INITIAL_POLLERS = 5;

export class SqsPoller {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private readonly running = new Set<Promise<void>>();
  /** Batches being collected or invoked: never more than MaximumConcurrency. */
  private slotsTaken = 0;
  private readonly slotWaiters: Array<() => void> = [];
  readonly stats = { batches: 0, received: 0, deleted: 0, failed: 0 };

  constructor(
    readonly spec: MappingSpec,
    private readonly opts: PollerOptions,
  ) {}

  /** Batches being processed right now. */
  get inFlight(): number {
    return this.running.size;
  }

  start(): void {
    if (this.spec.enabled === false || this.loop) return;
    const maxConcurrency = Math.max(1, this.spec.maxConcurrency);
    const loops = Math.max(
      1,
      Math.min(this.opts.pollers ?? LAMBDA_INITIAL_POLLERS, maxConcurrency),
    );
    this.loop = Promise.all(Array.from({ length: loops }, () => this.run(maxConcurrency))).then(
      () => undefined,
    );
  }

  /** Aborts the pending long polls; batches already invoked finish (or fail) on their own. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const wake of this.slotWaiters.splice(0)) wake();
    await this.loop;
  }

  /** Waits for the batches already dispatched (used after the pools are stopped). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /**
   * Takes a slot before receiving, so that a received batch never waits for an invocation slot
   * while its visibility timeout runs.
   */
  private async takeSlot(maxConcurrency: number, signal: AbortSignal): Promise<boolean> {
    while (this.slotsTaken >= maxConcurrency) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    if (signal.aborted) return false;
    this.slotsTaken++;
    return true;
  }

  private releaseSlot(): void {
    this.slotsTaken--;
    this.slotWaiters.shift()?.();
  }

  /** One poller: receive a batch, hand it to an invocation, receive the next. */
  private async run(maxConcurrency: number): Promise<void> {
    const { signal } = this.abort;
    while (await this.takeSlot(maxConcurrency, signal)) {
      let batch: Message[];
      try {
        batch = await this.collect(signal);
      } catch (err) {
        this.releaseSlot();
        if (signal.aborted) break;
        this.opts.log?.(`receive from ${this.spec.queueName} failed: ${(err as Error).message}`);
        await sleep(1000, signal);
        continue;
      }
      if (batch.length === 0) {
        this.releaseSlot();
        continue;
      }
      const p: Promise<void> = this.process(batch).finally(() => {
        this.running.delete(p);
        this.releaseSlot();
      });
      this.running.add(p);
    }
  }

  private async receive(max: number, waitSeconds: number, signal: AbortSignal) {
    const out = await this.opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.spec.queueUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return out.Messages ?? [];
  }

  /** One batch: the first long poll, then more polls until full or the window closes. */
  private async collect(signal: AbortSignal): Promise<Message[]> {
    const { batchSize, maxBatchingWindowSeconds } = this.spec;
    const batch = await this.receive(batchSize, this.opts.waitTimeSeconds ?? 5, signal);
    if (batch.length === 0 || maxBatchingWindowSeconds <= 0) return batch;
    const closesAt = Date.now() + maxBatchingWindowSeconds * 1000;
    while (batch.length < batchSize && !signal.aborted) {
      const left = closesAt - Date.now();
      if (left <= 0) break;
      const more = await this.receive(
        batchSize - batch.length,
        Math.min(20, Math.floor(left / 1000)),
        signal,
      ).catch(() => []);
      batch.push(...more);
      if (more.length === 0 && left < 1000) break;
    }
    return batch;
  }

  private async process(messages: Message[]): Promise<void> {
    const { spec, opts } = this;
    this.stats.batches++;
    this.stats.received += messages.length;
    const event = toSqsEvent(messages, spec.queueArn, opts.region);
    const ids = event.Records.map((r) => r.messageId);
    let outcome: InvokeResult;
    try {
      outcome = await opts.invoke(event);
    } catch (err) {
      outcome = {
        ok: false,
        timedOut: false,
        durationMs: 0,
        requestId: '',
        error: { errorType: 'Local.InvokeError', errorMessage: (err as Error).message },
      };
    }
    const { succeeded, reason } = succeededIds(ids, outcome, spec.reportBatchItemFailures);
    let deleted = 0;
    if (succeeded.length > 0) deleted = await this.delete(event, new Set(succeeded));
    const failed = ids.length - succeeded.length;
    this.stats.deleted += deleted;
    this.stats.failed += failed;
    if (reason) {
      opts.log?.(`${spec.functionName}: batch of ${ids.length} failed, none deleted (${reason})`);
    }
    opts.onBatch?.({
      functionName: spec.functionName,
      queueName: spec.queueName,
      records: ids.length,
      deleted,
      failed,
      ...(reason ? { error: reason } : {}),
    });
  }

  private async delete(event: SQSEvent, ids: Set<string>): Promise<number> {
    const entries = event.Records.filter((r) => ids.has(r.messageId)).map((r, i) => ({
      Id: String(i),
      ReceiptHandle: r.receiptHandle,
    }));
    let deleted = 0;
    for (let i = 0; i < entries.length; i += 10) {
      try {
        const out = await this.opts.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.spec.queueUrl,
            Entries: entries.slice(i, i + 10),
          }),
        );
        deleted += out.Successful?.length ?? 0;
        for (const f of out.Failed ?? []) {
          this.opts.log?.(`delete from ${this.spec.queueName} failed: ${f.Code} ${f.Message}`);
        }
      } catch (err) {
        this.opts.log?.(`delete from ${this.spec.queueName} failed: ${(err as Error).message}`);
      }
    }
    return deleted;
  }
}
