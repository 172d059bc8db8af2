// Shared by the end-to-end benchmarks: a fresh local stack (CDK bundles, ephemeral ports,
// quiet logs) and ground-truth polling of the node simulators.
import { join } from 'node:path';
import { REPO_ROOT } from '../local/runtime/lambda-pool.ts';
import type { Faults } from '../local/simulators/faults.ts';
import { EPHEMERAL_PORTS, type LocalStack, startLocalStack } from '../local/stack.ts';

export const EPHEMERAL = EPHEMERAL_PORTS;
/** Function logs of the benchmark stacks (bench/results/ holds results only). */
export const BENCH_LOG = join(REPO_ROOT, '.local', 'logs', 'bench-local-stack.log');

export interface BenchStackOptions {
  shards: number;
  nodesPerShard: number;
  nodeFaults?: Faults;
}

export async function startBenchStack(opts: BenchStackOptions): Promise<LocalStack> {
  // Local tooling on Node 20 by design: the SDK's Node 22 notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return startLocalStack({
    ports: EPHEMERAL,
    log: 'quiet',
    logFile: BENCH_LOG,
    source: 'bundle',
    fleet: {
      shards: opts.shards,
      nodesPerShard: opts.nodesPerShard,
      ...(opts.nodeFaults ? { nodeFaults: opts.nodeFaults } : {}),
    },
    // The benchmarks measure the event flow; a sweep in the middle would only add noise.
    reconcileIntervalSeconds: 3600,
    // Nor a source sync: benchmark events bypass the management server.
    sourceSyncIntervalSeconds: 3600,
    // Empty env: port/fault env vars of the caller's shell must not leak into a benchmark.
    env: {},
  });
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/**
 * Polls `isDone(key)` for every key every `intervalMs` until all are done or `timeoutMs`
 * passes; returns the time (performance.now()) each key was first seen done.
 */
export async function pollUntilDone(
  keys: readonly string[],
  isDone: (key: string) => boolean,
  timeoutMs: number,
  intervalMs: number,
): Promise<Map<string, number>> {
  const doneAt = new Map<string, number>();
  const deadline = performance.now() + timeoutMs;
  while (doneAt.size < keys.length) {
    const now = performance.now();
    for (const key of keys) if (!doneAt.has(key) && isDone(key)) doneAt.set(key, now);
    if (doneAt.size === keys.length) break;
    if (now > deadline) {
      throw new Error(`only ${doneAt.size}/${keys.length} done after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return doneAt;
}

/** Counters of the stack's event source pollers and function pools, for the report. */
export function runtimeStats(stack: LocalStack, queue: string, fn: string) {
  const poller = stack.pollers.find((p) => p.spec.queueName === queue);
  const pool = stack.pools.get(fn);
  return {
    batches: poller?.stats.batches ?? 0,
    received: poller?.stats.received ?? 0,
    failedRecords: poller?.stats.failed ?? 0,
    invocations: pool?.stats.invocations ?? 0,
    coldStarts: pool?.stats.coldStarts ?? 0,
  };
}

export const diffStats = (
  after: ReturnType<typeof runtimeStats>,
  before: ReturnType<typeof runtimeStats>,
) => ({
  batches: after.batches - before.batches,
  received: after.received - before.received,
  failedRecords: after.failedRecords - before.failedRecords,
  invocations: after.invocations - before.invocations,
  coldStarts: after.coldStarts - before.coldStarts,
});
