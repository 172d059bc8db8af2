// End-to-end throughput of shard creation on the local stack (CDK bundles in the Lambda-like
// pools, SQS event source emulation, Citrus and node simulators over HTTP): N distinct
// locations sent at once; done when every location's schema is on every node of its shard
// (node simulator state, polled). One fresh stack per node latency setting;
// BENCH_LATENCIES=0,20,50,100 sweeps more of them (for the chart, bench/figures.ts).
import type { LocalStack } from '../local/stack.ts';
import { ShardControlProducer } from '../shared/contracts/producer.ts';
import { type Benchmark, numbersFromEnv, round, table } from './benchmark.ts';
import {
  diffStats,
  percentile,
  pollUntilDone,
  runtimeStats,
  startBenchStack,
} from './local-stack.ts';

const LOCATIONS = Number(process.env.BENCH_LOCATIONS ?? 200);
const LATENCIES_MS = numbersFromEnv('BENCH_LATENCIES', [0, 20]);
const SHARDS = 4;
const NODES_PER_SHARD = 3;
// Enough to start every sandbox (5 concurrent batches of 10), so cold starts stay out of the run.
const WARMUP = 50;
const POLL_MS = 10;
const TIMEOUT_MS = 180_000;

export interface ThroughputRun {
  nodeLatencyMs: number;
  locations: number;
  /** First send to the last location initialised on every node of its shard. */
  totalMs: number;
  messagesPerSecond: number;
  /** Time to enqueue all N (SendMessageBatch, 4 batches in flight). */
  sendMs: number;
  /** Per location, first send to initialised everywhere. */
  completionMs: { p50: number; p95: number; max: number };
  runtime: ReturnType<typeof diffStats>;
  /** Node agent requests during the measurement (N x nodes per shard when nothing is retried). */
  nodeRequests: number;
  stackStartMs: number;
  /**
   * Share of the measurement the benchmark process's main thread was busy: it runs the SQS
   * and DynamoDB emulators, the simulators and the pollers (the handlers run in worker threads).
   */
  mainThreadBusy: number;
  /**
   * CPU time of the whole process (every thread: emulators, simulators, pollers, sandboxes) per
   * location during the measurement. Unlike msg/s it hardly depends on what else the machine
   * runs: N dedicated cores can do at most N x 1000 / cpuMsPerMessage msg/s.
   */
  cpuMsPerMessage: number;
}

export interface ThroughputResult {
  locations: number;
  shards: number;
  nodesPerShard: number;
  warmupLocations: number;
  mapping: { batchSize: number; maxBatchingWindowSeconds: number; maxConcurrency: number };
  runs: ThroughputRun[];
}

const keyOf = (i: number, prefix: string) => `biz-bench#${prefix}-${String(i).padStart(4, '0')}`;

async function measure(
  stack: LocalStack,
  nodeLatencyMs: number,
  stackStartMs: number,
): Promise<ThroughputRun> {
  const fleet = stack.fleet!;
  const producer = new ShardControlProducer({ sqs: stack.sqs, queueUrls: stack.queues });
  const locations = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      businessId: 'biz-bench',
      locationId: `${prefix}-${String(i).padStart(4, '0')}`,
      businessType: 'restaurant',
    }));
  const initialised = (key: string) =>
    fleet.nodes.filter((n) => n.state.schemas.has(key)).length === NODES_PER_SHARD;

  // Warm-up: sandboxes started and modules loaded, so the run measures the flow, not cold starts.
  await producer.sendShardCreates(locations('warm', WARMUP));
  await stack.waitForIdle(60_000);

  const before = runtimeStats(stack, 'shard-creation', 'shard-creation');
  const putsBefore = fleet.nodes.reduce((n, node) => n + node.requests.length, 0);
  const keys = Array.from({ length: LOCATIONS }, (_, i) => keyOf(i, 'loc'));
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const sending = producer.sendShardCreates(locations('loc', LOCATIONS));
  const polling = pollUntilDone(keys, initialised, TIMEOUT_MS, POLL_MS);
  const sent = await sending;
  const sendMs = performance.now() - t0;
  if (sent.failed.length > 0) throw new Error(`${sent.failed.length} sends failed`);
  const doneAt = await polling;
  const totalMs = Math.max(...doneAt.values()) - t0;
  const mainThreadBusy = round(performance.eventLoopUtilization(elu).utilization, 2);
  const cpuUsed = process.cpuUsage(cpu);
  const cpuMsPerMessage = round((cpuUsed.user + cpuUsed.system) / 1000 / LOCATIONS, 1);
  await stack.waitForIdle(60_000);
  const completions = [...doneAt.values()].map((t) => t - t0);
  const nodeRequests = fleet.nodes.reduce((n, node) => n + node.requests.length, 0) - putsBefore;
  return {
    nodeLatencyMs,
    locations: LOCATIONS,
    totalMs: Math.round(totalMs),
    messagesPerSecond: round((LOCATIONS / totalMs) * 1000, 1),
    sendMs: Math.round(sendMs),
    completionMs: {
      p50: Math.round(percentile(completions, 50)),
      p95: Math.round(percentile(completions, 95)),
      max: Math.round(Math.max(...completions)),
    },
    runtime: diffStats(runtimeStats(stack, 'shard-creation', 'shard-creation'), before),
    nodeRequests,
    stackStartMs,
    mainThreadBusy,
    cpuMsPerMessage,
  };
}

async function run(): Promise<ThroughputResult> {
  const runs: ThroughputRun[] = [];
  let mapping: ThroughputResult['mapping'] = {
    batchSize: 0,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 0,
  };
  for (const latency of LATENCIES_MS) {
    const started = performance.now();
    const stack = await startBenchStack({
      shards: SHARDS,
      nodesPerShard: NODES_PER_SHARD,
      nodeFaults: { latencyMs: latency },
    });
    // Stopped on failure too: a stack left running keeps the process alive.
    try {
      const run = await measure(stack, latency, Math.round(performance.now() - started));
      const m = stack.topology.mappings.find((x) => x.queueName === 'shard-creation')!;
      mapping = {
        batchSize: m.batchSize,
        maxBatchingWindowSeconds: m.maxBatchingWindowSeconds,
        maxConcurrency: m.maxConcurrency,
      };
      runs.push(run);
      console.log(
        `  node latency ${latency} ms: ${run.locations} locations in ${run.totalMs} ms (${run.messagesPerSecond} msg/s)`,
      );
    } finally {
      await stack.stop();
    }
  }
  return {
    locations: LOCATIONS,
    shards: SHARDS,
    nodesPerShard: NODES_PER_SHARD,
    warmupLocations: WARMUP,
    mapping,
    runs,
  };
}

function format(result: ThroughputResult): string {
  const m = result.mapping;
  return [
    `${result.locations} shard.create at once, ${result.shards} shards x ${result.nodesPerShard} nodes, ` +
      `event source batch ${m.batchSize} / window ${m.maxBatchingWindowSeconds} s / concurrency ${m.maxConcurrency}, ` +
      `after a ${result.warmupLocations}-location warm-up`,
    table(
      [
        'node latency ms',
        'locations',
        'total ms',
        'msg/s',
        'send ms',
        'p50 ms',
        'p95 ms',
        'batches',
        'retried',
        'cold starts',
        'node requests',
        'main thread busy',
        'CPU ms/msg',
      ],
      result.runs.map((r) => [
        r.nodeLatencyMs,
        r.locations,
        r.totalMs,
        r.messagesPerSecond,
        r.sendMs,
        r.completionMs.p50,
        r.completionMs.p95,
        r.runtime.batches,
        r.runtime.failedRecords,
        r.runtime.coldStarts,
        r.nodeRequests,
        r.mainThreadBusy,
        r.cpuMsPerMessage,
      ]),
    ),
  ].join('\n');
}

export const shardCreateThroughput: Benchmark<ThroughputResult> = {
  name: 'shard-create-throughput',
  description: `shard.create end to end on the local stack: N locations at once until on every node, node latency ${LATENCIES_MS.join(' / ')} ms`,
  run,
  format,
};
