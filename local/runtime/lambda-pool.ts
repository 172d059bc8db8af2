// Runs one function's code in reusable worker threads, the local stand-in for Lambda
// sandboxes: each worker has the function's own env, serves one invocation at a time,
// stays warm between invocations, and is recycled when an invocation times out.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { transformSync } from 'esbuild';
import type { InvocationError, ToParent, ToWorker, WorkerData } from './lambda-protocol.ts';
import { startTsWorker } from './ts-worker.ts';

const here = dirname(fileURLToPath(import.meta.url));
const WORKER_URL = join(here, 'lambda-worker.ts');

let compiledWorker: URL | undefined;
/** lambda-worker.ts as JavaScript (types stripped once per process), as a data: URL. */
function compiledWorkerUrl(): URL {
  compiledWorker ??= new URL(
    `data:text/javascript,${encodeURIComponent(
      transformSync(readFileSync(WORKER_URL, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: WORKER_URL,
      }).code,
    )}`,
  );
  return compiledWorker;
}
/**
 * The heap Lambda's Node.js bootstrap gives a function of `memorySize` MB: a tenth of it
 * for the young generation (`--max-semi-space-size` of half that), the rest for the old one.
 * V8's young generation is three semi-spaces (two plus the new large-object space).
 */
function lambdaHeapLimits(memorySize: number) {
  const semiSpaceMb = Math.floor(Math.floor(memorySize / 10) / 2);
  return {
    maxYoungGenerationSizeMb: semiSpaceMb * 3,
    maxOldGenerationSizeMb: memorySize - Math.floor(memorySize / 10),
  };
}
export const REPO_ROOT = resolve(here, '..', '..');

export interface PoolFunction {
  /** Short name, e.g. `shard-creation` (also the directory under `functions/`). */
  name: string;
  /** Name as Lambda would report it in the context. */
  functionName: string;
  functionArn: string;
  /** Absolute path of the module to load. */
  entry: string;
  exportName: string;
  timeoutSeconds: number;
  memorySize: number;
  /** Complete environment of the sandbox (function env + AWS runtime vars). */
  env: Record<string, string>;
}

export type InvokeResult =
  | { ok: true; result: unknown; durationMs: number; requestId: string }
  | {
      ok: false;
      error: InvocationError;
      timedOut: boolean;
      durationMs: number;
      requestId: string;
    };

export type LogSink = (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;

interface Slot {
  worker: Worker;
  busy: boolean;
  dead: boolean;
  pending?: { id: number; settle: (r: ToParent & { type: 'result' }) => void };
}

/**
 * Entry module of a function: the bundled `index.mjs` CDK produced (what Lambda runs), or in
 * source mode (`--watch`/`source: 'ts'`, for fast iteration) `functions/<name>/handler.ts`.
 */
export function resolveEntry(
  fn: { name: string; bundleDir?: string; handler: string },
  source: 'bundle' | 'ts',
): { entry: string; exportName: string } {
  const dot = fn.handler.lastIndexOf('.');
  const file = dot > 0 ? fn.handler.slice(0, dot) : 'index';
  const exportName = dot > 0 ? fn.handler.slice(dot + 1) : fn.handler;
  if (source === 'ts') {
    const entry = join(REPO_ROOT, 'functions', fn.name, 'handler.ts');
    if (!existsSync(entry)) throw new Error(`source mode: ${entry} does not exist`);
    return { entry, exportName: 'handler' };
  }
  if (!fn.bundleDir) throw new Error(`function ${fn.name} has no bundle (aws:asset:path)`);
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const entry = join(fn.bundleDir, file + ext);
    if (existsSync(entry)) return { entry, exportName };
  }
  throw new Error(`function ${fn.name}: no ${file}.mjs/.js in ${fn.bundleDir}`);
}

export class LambdaPool {
  private readonly slots: Slot[] = [];
  private readonly waiters: Array<{ resolve: (s: Slot) => void; reject: (e: Error) => void }> = [];
  private nextId = 1;
  private stopped = false;
  private active = 0;
  /** Counters, for progress displays and tests. */
  readonly stats = { invocations: 0, errors: 0, timeouts: 0, coldStarts: 0, kills: 0 };
  /** Fault injection: delays after which the next invocations' sandboxes are terminated. */
  private readonly kills: number[] = [];

  constructor(
    readonly fn: PoolFunction,
    private readonly size: number,
    private readonly log: LogSink,
  ) {
    if (size < 1) throw new Error(`pool size must be >= 1 (got ${size})`);
  }

  /** Invocations accepted and not finished yet (queued or running). */
  get inFlight(): number {
    return this.active;
  }

  get workers(): number {
    return this.slots.length;
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    if (this.stopped) throw new Error(`pool of ${this.fn.name} is stopped`);
    this.active++;
    this.stats.invocations++;
    try {
      const slot = await this.acquire();
      return await this.run(slot, event);
    } finally {
      this.active--;
    }
  }

  /**
   * Fault injection: the next invocation's sandbox is terminated `afterMs` into it, as a crash,
   * an out-of-memory kill or a timeout ends a Lambda sandbox. The invocation fails without a
   * response, so an event source deletes none of its batch: the records come back after their
   * visibility timeout. An invocation that ends first is not killed.
   */
  killNextInvocation(afterMs = 0): void {
    this.kills.push(afterMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w.reject(new Error('pool stopped'));
    const slots = this.slots.splice(0);
    // An invocation still running fails now, as one whose sandbox is shut down does: left to
    // its timeout, it would hold whoever waits for it (a poller's drain) for up to 15 minutes.
    for (const slot of slots) {
      slot.dead = true;
      slot.pending?.settle({
        type: 'result',
        id: slot.pending.id,
        ok: false,
        error: { errorType: 'Runtime.ExitError', errorMessage: 'sandbox shut down: pool stopped' },
      });
    }
    await Promise.all(slots.map((s) => this.kill(s)));
  }

  private acquire(): Promise<Slot> {
    const idle = this.slots.find((s) => !s.busy && !s.dead);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    if (this.slots.length < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(slot: Slot): void {
    if (slot.dead || this.stopped) {
      this.remove(slot);
      // A recycled sandbox frees capacity: a waiting invocation gets a fresh one.
      const waiter = this.waiters.shift();
      if (waiter && !this.stopped) waiter.resolve(this.spawn());
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(slot);
    else slot.busy = false;
  }

  private spawn(): Slot {
    this.stats.coldStarts++;
    const data: WorkerData = {
      entry: this.fn.entry,
      exportName: this.fn.exportName,
      functionName: this.fn.functionName,
      functionArn: this.fn.functionArn,
      memorySize: this.fn.memorySize,
      logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    };
    const options = {
      workerData: data,
      env: { ...this.fn.env, AWS_LAMBDA_LOG_STREAM_NAME: data.logStreamName },
      // Lambda applies the function's NODE_OPTIONS; without any, the sandbox runs as deployed
      // (no `--enable-source-maps`: the logger maps stacks itself, shared/lambda/source-maps.ts).
      execArgv: this.fn.env.NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [],
      stdout: true,
      stderr: true,
      // The heap of a Lambda sandbox of this memory size: allocation fails where it would in AWS.
      resourceLimits: lambdaHeapLimits(this.fn.memorySize),
    };
    // A bundle is plain JavaScript, as in Lambda: its sandbox needs no TypeScript loader, which
    // would cost every cold start a good part of its time. Handler sources (.ts) need one.
    const worker = /\.[cm]?ts$/.test(this.fn.entry)
      ? startTsWorker(WORKER_URL, options)
      : new Worker(compiledWorkerUrl(), options);
    const slot: Slot = { worker, busy: true, dead: false };
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: worker[stream], crlfDelay: Number.POSITIVE_INFINITY }).on(
        'line',
        (line) => this.log(this.fn.name, line, stream),
      );
    }
    worker.on('message', (msg: ToParent) => {
      if (msg.type === 'result' && slot.pending?.id === msg.id) slot.pending.settle(msg);
    });
    const crash = (error: InvocationError) => {
      slot.dead = true;
      slot.pending?.settle({ type: 'result', id: slot.pending.id, ok: false, error });
    };
    worker.on('error', (err) =>
      crash({ errorType: 'Runtime.ExitError', errorMessage: err.message, stack: err.stack }),
    );
    worker.on('exit', (code) =>
      crash({ errorType: 'Runtime.ExitError', errorMessage: `sandbox exited with code ${code}` }),
    );
    this.slots.push(slot);
    return slot;
  }

  private run(slot: Slot, event: unknown): Promise<InvokeResult> {
    const id = this.nextId++;
    const requestId = randomUUID();
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const started = Date.now();
    return new Promise<InvokeResult>((resolve) => {
      const timer = setTimeout(() => {
        // Like Lambda: the invocation fails and the sandbox is thrown away, so whatever the
        // handler was still doing cannot leak into the next invocation.
        this.stats.timeouts++;
        slot.dead = true;
        slot.pending = undefined;
        this.log(
          this.fn.name,
          JSON.stringify({
            level: 'ERROR',
            message: `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
            requestId,
          }),
          'stderr',
        );
        void this.kill(slot);
        this.stats.errors++;
        resolve({
          ok: false,
          timedOut: true,
          requestId,
          durationMs: Date.now() - started,
          error: {
            errorType: 'Sandbox.Timedout',
            errorMessage: `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
          },
        });
        this.release(slot);
      }, timeoutMs);
      slot.pending = {
        id,
        settle: (msg) => {
          clearTimeout(timer);
          slot.pending = undefined;
          const durationMs = Date.now() - started;
          if (msg.ok) resolve({ ok: true, result: msg.result, durationMs, requestId });
          else {
            this.stats.errors++;
            resolve({ ok: false, error: msg.error, timedOut: false, durationMs, requestId });
          }
          if (slot.dead) void this.kill(slot);
          this.release(slot);
        },
      };
      const msg: ToWorker = { type: 'invoke', id, event, deadline: started + timeoutMs, requestId };
      slot.worker.postMessage(msg);
      const killAfter = this.kills.shift();
      if (killAfter !== undefined) {
        // The worker's exit settles the invocation as a crash (see spawn).
        const killer = setTimeout(() => {
          if (slot.pending?.id !== id) return;
          this.stats.kills++;
          void slot.worker.terminate();
        }, killAfter);
        const settle = slot.pending.settle;
        slot.pending.settle = (m) => {
          clearTimeout(killer);
          settle(m);
        };
      }
    });
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private async kill(slot: Slot): Promise<void> {
    slot.dead = true;
    slot.pending = undefined;
    await slot.worker.terminate().catch(() => undefined);
  }
}
