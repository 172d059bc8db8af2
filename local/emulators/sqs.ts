// SQS emulator: fauxqs 1.9.2 in-process, plus what fauxqs lacks and the control plane relies on:
// the DLQ redrive API (Start/List/CancelMessageMoveTask) and non-FIFO delivery order on
// standard queues (so nothing local accidentally depends on an ordering AWS never gives), and
// the query (XML) protocol next to JSON, for tools that speak only query (sqs-query.ts).
import { randomUUID } from 'node:crypto';
import { buildApp } from 'fauxqs';
import { registerQueryProtocol } from './sqs-query.ts';

export interface SqsEmulator {
  url: string;
  port: number;
  stop(): Promise<void>;
}

// The parts of fauxqs' internal store and queue this module touches (fauxqs 1.9.2, pinned).
interface FxMessage {
  messageId: string;
  body: string;
  messageAttributes: Record<string, unknown>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  sequenceNumber?: string;
}
type DlqResolver = (arn: string) => { enqueue(msg: FxMessage): void } | undefined;
interface FxQueue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string | undefined>;
  messages: FxMessage[];
  inflightMessages: Map<string, { message: FxMessage }>;
  isFifo(): boolean;
  processTimers(): void;
  getAttribute(name: string): string | undefined;
  dequeue(
    max: number,
    visibility?: number,
    resolver?: DlqResolver,
  ): Array<{ ReceiptHandle: string }>;
  enqueue(msg: FxMessage): void;
  deleteMessage(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  nextSequenceNumber(): string;
}
interface FxSqsStore {
  host: string;
  createQueue(...args: unknown[]): FxQueue;
  getQueueByArn(arn: string): FxQueue | undefined;
  listQueues(): FxQueue[];
}
interface FxSqsStoreClass {
  new (): FxSqsStore;
  createMessage(
    body: string,
    attributes: Record<string, unknown>,
    delaySeconds?: number,
    groupId?: string,
    dedupId?: string,
  ): FxMessage;
}
type BuildAppStores = NonNullable<NonNullable<Parameters<typeof buildApp>[0]>['stores']>;

// fauxqs only exports its root module; its stores must be created here so the SQS store's
// `host` can be cleared (queue URLs then follow the request's Host header, i.e. 127.0.0.1:port)
// and so the extensions below can reach the queues. Loaded by file URL, next to the root module.
async function loadStoreClasses() {
  const root = import.meta.resolve('fauxqs');
  const load = async (rel: string, name: string) =>
    ((await import(new URL(rel, root).href)) as Record<string, unknown>)[name] as new () => unknown;
  return {
    SqsStore: (await load('./sqs/sqsStore.js', 'SqsStore')) as unknown as FxSqsStoreClass,
    SnsStore: await load('./sns/snsStore.js', 'SnsStore'),
    S3Store: await load('./s3/s3Store.js', 'S3Store'),
  };
}

export async function startSqsEmulator(
  opts: { port?: number; host?: string; shuffle?: boolean } = {},
): Promise<SqsEmulator> {
  const { SqsStore, SnsStore, S3Store } = await loadStoreClasses();
  const sqsStore = new SqsStore();
  sqsStore.host = ''; // falsy: build queue URLs from the request Host header
  const shuffle = opts.shuffle ?? true;
  // DLQ message -> ARN of the queue it was dead-lettered from, for redrive without DestinationArn.
  const deadLetteredFrom = new WeakMap<FxMessage, string>();

  const createQueue = sqsStore.createQueue.bind(sqsStore);
  sqsStore.createQueue = (...args: unknown[]) => {
    const queue = createQueue(...args);
    wrapQueue(queue, shuffle, deadLetteredFrom);
    return queue;
  };

  const app = buildApp({
    logger: false,
    stores: {
      sqsStore,
      snsStore: new SnsStore(),
      s3Store: new S3Store(),
    } as unknown as BuildAppStores,
  });

  registerQueryProtocol(app);
  const moves = new MoveTasks(sqsStore, SqsStore, deadLetteredFrom);
  app.addHook('preHandler', async (request, reply) => {
    const target = request.headers['x-amz-target'];
    const contentType = request.headers['content-type'] ?? '';
    if (request.method !== 'POST' || typeof target !== 'string') return;
    if (!contentType.includes('application/x-amz-json-1.0')) return;
    const op = target.replace('AmazonSQS.', '');
    if (!MoveTasks.ops.has(op)) return;
    reply.header('content-type', 'application/x-amz-json-1.0');
    try {
      const result = moves.handle(op, (request.body ?? {}) as Record<string, unknown>);
      return reply.code(200).send(result);
    } catch (err) {
      if (!(err instanceof AwsSqsError)) throw err;
      // The SDK names errors after this header's code; AWS namespaces only some of them.
      const queryCode = NAMESPACED.has(err.code) ? `AWS.SimpleQueueService.${err.code}` : err.code;
      reply.header('x-amzn-query-error', `${queryCode};Sender`);
      return reply
        .code(400)
        .send({ __type: `com.amazonaws.sqs#${err.code}`, message: err.message });
    }
  });

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    // fauxqs sets forceCloseConnections and releases long polls in preClose.
    stop: async () => {
      moves.stopAll();
      await app.close();
    },
  };
}

/**
 * Per-queue wrapper of fauxqs: random selection on standard queues (AWS gives no ordering),
 * a record of which queue each dead-lettered message came from, and message counts in which a
 * message whose visibility timeout expired is visible again (fauxqs only notices on receive).
 */
function wrapQueue(queue: FxQueue, shuffle: boolean, from: WeakMap<FxMessage, string>): void {
  const getAttribute = queue.getAttribute.bind(queue);
  queue.getAttribute = (name) => {
    if (name.startsWith('ApproximateNumberOfMessages')) queue.processTimers();
    return getAttribute(name);
  };
  const dequeue = queue.dequeue.bind(queue);
  queue.dequeue = (max, visibility, resolver) => {
    if (shuffle && !queue.isFifo()) {
      // Expired in-flight and delayed messages must be part of the draw.
      queue.processTimers();
      const msgs = queue.messages;
      const take = Math.min(max, 10, msgs.length);
      for (let i = 0; i < take; i++) {
        const j = i + Math.floor(Math.random() * (msgs.length - i));
        [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!];
      }
    }
    const tracking: DlqResolver | undefined = resolver
      ? (arn) => {
          const dlq = resolver(arn);
          if (!dlq) return undefined;
          return {
            enqueue: (msg) => {
              from.set(msg, queue.arn);
              dlq.enqueue(msg);
            },
          };
        }
      : undefined;
    return dequeue(max, visibility, tracking);
  };
}

const NAMESPACED = new Set(['UnsupportedOperation']);

class AwsSqsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type MoveStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

interface MoveTask {
  handle: string;
  sourceArn: string;
  destinationArn?: string;
  rate?: number;
  status: MoveStatus;
  moved: number;
  toMove: number;
  startedTimestamp: number;
  failureReason?: string;
  timer?: NodeJS.Timeout;
}

/** Unset rate: AWS "optimises"; locally, move fast in batches without starving the event loop. */
const DEFAULT_BATCH = 100;
const HISTORY_PER_SOURCE = 10;

class MoveTasks {
  static readonly ops = new Set([
    'StartMessageMoveTask',
    'ListMessageMoveTasks',
    'CancelMessageMoveTask',
  ]);
  private readonly bySource = new Map<string, MoveTask[]>();

  constructor(
    private readonly store: FxSqsStore,
    private readonly Store: FxSqsStoreClass,
    private readonly deadLetteredFrom: WeakMap<FxMessage, string>,
  ) {}

  handle(op: string, body: Record<string, unknown>): unknown {
    if (op === 'StartMessageMoveTask') return this.start(body);
    if (op === 'ListMessageMoveTasks') return this.list(body);
    return this.cancel(body);
  }

  stopAll(): void {
    for (const tasks of this.bySource.values()) {
      for (const t of tasks) clearTimeout(t.timer);
    }
  }

  /** Queues whose RedrivePolicy names this ARN as their dead-letter target. */
  private sourcesOf(dlqArn: string): FxQueue[] {
    return this.store.listQueues().filter((q) => {
      try {
        return JSON.parse(q.attributes.RedrivePolicy ?? '{}').deadLetterTargetArn === dlqArn;
      } catch {
        return false;
      }
    });
  }

  private start(body: Record<string, unknown>) {
    const sourceArn = body.SourceArn;
    if (typeof sourceArn !== 'string' || sourceArn === '') {
      throw new AwsSqsError(
        'MissingParameter',
        'The request must contain the parameter SourceArn.',
      );
    }
    const source = this.store.getQueueByArn(sourceArn);
    if (!source) {
      throw new AwsSqsError(
        'ResourceNotFoundException',
        "The resource that you specified for the SourceArn parameter doesn't exist.",
      );
    }
    if (this.sourcesOf(sourceArn).length === 0) {
      throw new AwsSqsError(
        'InvalidParameterValue',
        'Source queue must be configured as a Dead Letter Queue.',
      );
    }
    const destinationArn = body.DestinationArn;
    if (destinationArn !== undefined) {
      if (typeof destinationArn !== 'string' || !this.store.getQueueByArn(destinationArn)) {
        throw new AwsSqsError(
          'ResourceNotFoundException',
          "The resource that you specified for the DestinationArn parameter doesn't exist.",
        );
      }
      if (destinationArn === sourceArn) {
        throw new AwsSqsError(
          'InvalidParameterValue',
          'Source and destination queues must be different.',
        );
      }
    }
    const rate = body.MaxNumberOfMessagesPerSecond;
    if (
      rate !== undefined &&
      (!Number.isInteger(rate) || (rate as number) < 1 || (rate as number) > 500)
    ) {
      throw new AwsSqsError(
        'InvalidParameterValue',
        'Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.',
      );
    }
    const tasks = this.bySource.get(sourceArn) ?? [];
    if (tasks.some((t) => t.status === 'RUNNING' || t.status === 'CANCELLING')) {
      throw new AwsSqsError(
        'UnsupportedOperation',
        'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
      );
    }
    const move: MoveTask = {
      handle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString('base64'),
      sourceArn,
      ...(typeof destinationArn === 'string' ? { destinationArn } : {}),
      ...(typeof rate === 'number' ? { rate } : {}),
      status: 'RUNNING',
      moved: 0,
      toMove: Number(source.getAttribute('ApproximateNumberOfMessages') ?? 0),
      startedTimestamp: Date.now(),
    };
    tasks.unshift(move);
    tasks.splice(HISTORY_PER_SOURCE);
    this.bySource.set(sourceArn, tasks);
    this.schedule(move, 0);
    return { TaskHandle: move.handle };
  }

  private schedule(move: MoveTask, delayMs: number): void {
    move.timer = setTimeout(() => this.step(move), delayMs);
    move.timer.unref();
  }

  /** One batch: receive from the DLQ, send to the destination, delete from the DLQ. */
  private step(move: MoveTask): void {
    if (move.status === 'CANCELLING') {
      move.status = 'CANCELLED';
      return;
    }
    const source = this.store.getQueueByArn(move.sourceArn);
    if (!source) {
      this.fail(move, 'AWS.SimpleQueueService.NonExistentQueue');
      return;
    }
    const batch = move.rate ? Math.max(1, Math.ceil(move.rate / 10)) : DEFAULT_BATCH;
    for (let i = 0; i < batch; i++) {
      if (move.moved >= move.toMove) break;
      const [received] = source.dequeue(1, 30);
      if (!received) break;
      const msg = source.inflightMessages.get(received.ReceiptHandle)?.message;
      if (!msg) continue;
      const destination = this.destinationFor(move, msg);
      if (typeof destination === 'string') {
        // Leave the message where it is: make it visible again for a later attempt.
        source.changeVisibility(received.ReceiptHandle, 0);
        this.fail(move, destination);
        return;
      }
      const copy = this.Store.createMessage(
        msg.body,
        msg.messageAttributes,
        undefined,
        msg.messageGroupId,
        msg.messageDeduplicationId,
      );
      if (destination.isFifo()) copy.sequenceNumber = destination.nextSequenceNumber();
      destination.enqueue(copy);
      source.deleteMessage(received.ReceiptHandle);
      move.moved++;
    }
    const visible = Number(source.getAttribute('ApproximateNumberOfMessages') ?? 0);
    if (move.moved >= move.toMove || visible === 0) {
      move.status = 'COMPLETED';
      return;
    }
    this.schedule(move, move.rate ? (batch * 1000) / move.rate : 0);
  }

  /** The destination queue, or a failure reason when the original source cannot be found. */
  private destinationFor(move: MoveTask, msg: FxMessage): FxQueue | string {
    if (move.destinationArn) {
      return (
        this.store.getQueueByArn(move.destinationArn) ?? 'AWS.SimpleQueueService.NonExistentQueue'
      );
    }
    const origin = this.deadLetteredFrom.get(msg);
    if (origin)
      return this.store.getQueueByArn(origin) ?? 'AWS.SimpleQueueService.NonExistentQueue';
    // Sent straight to the DLQ: only unambiguous if a single queue dead-letters into it.
    const sources = this.sourcesOf(move.sourceArn);
    if (sources.length === 1) return sources[0]!;
    return 'Cannot determine the original source queue of a message; specify DestinationArn.';
  }

  private fail(move: MoveTask, reason: string): void {
    move.status = 'FAILED';
    move.failureReason = reason;
  }

  private list(body: Record<string, unknown>) {
    const sourceArn = body.SourceArn;
    if (typeof sourceArn !== 'string' || !this.store.getQueueByArn(sourceArn)) {
      throw new AwsSqsError(
        'ResourceNotFoundException',
        "The resource that you specified for the SourceArn parameter doesn't exist.",
      );
    }
    const max = body.MaxResults ?? 1;
    if (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 10) {
      throw new AwsSqsError(
        'InvalidParameterValue',
        'Value for parameter MaxResults is invalid. Reason: Must be between 1 and 10.',
      );
    }
    const tasks = (this.bySource.get(sourceArn) ?? []).slice(0, max as number);
    return {
      Results: tasks.map((t) => ({
        // AWS only reveals the handle while the move can still be cancelled.
        ...(t.status === 'RUNNING' ? { TaskHandle: t.handle } : {}),
        Status: t.status,
        SourceArn: t.sourceArn,
        ...(t.destinationArn ? { DestinationArn: t.destinationArn } : {}),
        ...(t.rate ? { MaxNumberOfMessagesPerSecond: t.rate } : {}),
        ApproximateNumberOfMessagesMoved: t.moved,
        ApproximateNumberOfMessagesToMove: t.toMove,
        ...(t.failureReason ? { FailureReason: t.failureReason } : {}),
        StartedTimestamp: t.startedTimestamp,
      })),
    };
  }

  private cancel(body: Record<string, unknown>) {
    const handle = body.TaskHandle;
    const move =
      typeof handle === 'string'
        ? [...this.bySource.values()].flat().find((t) => t.handle === handle)
        : undefined;
    if (!move) {
      throw new AwsSqsError('ResourceNotFoundException', 'Task does not exist.');
    }
    if (move.status !== 'RUNNING') {
      throw new AwsSqsError(
        'UnsupportedOperation',
        `Task cannot be cancelled in its current status ${move.status}. Only a task with status RUNNING can be cancelled.`,
      );
    }
    move.status = 'CANCELLING';
    // The running step notices and settles to CANCELLED; reschedule so that happens at once.
    clearTimeout(move.timer);
    this.schedule(move, 0);
    return { ApproximateNumberOfMessagesMoved: move.moved };
  }
}
