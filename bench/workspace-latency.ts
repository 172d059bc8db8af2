// Latency of the workspace lifecycle on the local stack: from sending a workspace.created to
// its store being monitored on every node of its shard (node simulator state polled every
// 10 ms), with 20 ms node latency. Workspaces go out in waves so that latency is not only
// queueing. A second, informational pattern sends single messages apart from each other: a
// lone message waits for the event source's batching window (1 s on this queue in the
// template), by design. A third pattern is a burst: 100 workspace.created plus 20 duplicates
// (the same events sent again, as a producer retrying would) at once, while 60 shard.create
// for new locations are in flight on the other queue.
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../local/stack.ts';
import type { WorkspaceEvent } from '../shared/contracts/producer.ts';
import { ShardControlProducer } from '../shared/contracts/producer.ts';
import { keys } from '../shared/store/schema.ts';
import { type Benchmark, medianBy, table } from './benchmark.ts';
import {
  diffStats,
  percentile,
  pollUntilDone,
  runtimeStats,
  startBenchStack,
} from './local-stack.ts';

export const TARGET_P95_MS = 1_000;
export const BURST_TARGET_P95_MS = 1_500;
const NODE_LATENCY_MS = 20;
const SHARDS = 4;
const NODES_PER_SHARD = 3;
const LOCATIONS = 8;
const WAVES = 5;
const PER_WAVE = 20;
const WAVE_GAP_MS = 1_500;
const SINGLES = 10;
const SINGLE_GAP_MS = 1_500;
const POLL_MS = 10;
const BURST_WORKSPACES = 100;
const BURST_DUPLICATES = 20;
const BURST_SHARD_CREATES = 60;
/**
 * Bursts sent before the measured patterns, their p95 kept in the result (`burstWarmUp`). The
 * burst starts every sandbox both mappings allow (10 + 5 here), and a sandbox that has served a
 * few invocations is still mostly V8 compiling its bundle: on this machine the burst's p95 is
 * 4-6 s on fresh sandboxes (the cold starts and compilation of 15 isolates sharing 2 cores) and
 * falls over about a dozen bursts (a run of 20 warm-up bursts: 5.9 s, 2.9, 2.3, ... 1.3, 1.5,
 * 1.0, 1.4, 1.3, 1.2). In Lambda each sandbox serves thousands of invocations, on hardware of
 * its own.
 */
const WARMUP_BURSTS = Number(process.env.BENCH_WARMUP_BURSTS ?? 12);
const MEASURED_BURSTS = 3;

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
}

export interface PatternResult {
  pattern: string;
  description: string;
  latencyMs: LatencyStats;
  /** Every sample, in send order: the distribution chart (bench/figures.ts). */
  samplesMs: number[];
  /**
   * CPU time of the whole process (emulators, simulators, pollers, sandboxes, V8's threads) from
   * the first send to the last workspace monitored: what bounds a burst on 2 cores.
   */
  cpuMs: number;
  runtime: ReturnType<typeof diffStats>;
  /** Records per invocation (the batching window fills batches or times out). */
  meanBatchSize: number;
}

export interface WorkspaceLatencyResult {
  nodeLatencyMs: number;
  shards: number;
  nodesPerShard: number;
  locations: number;
  targetP95Ms: number;
  burstTargetP95Ms: number;
  mapping: { batchSize: number; maxBatchingWindowSeconds: number; maxConcurrency: number };
  /** The pattern the target is judged on. */
  waves: PatternResult;
  singles: PatternResult;
  /** Judged against burstTargetP95Ms; latency of each distinct workspace. */
  burst: PatternResult;
  /** p95 of each warm-up burst, the first one on fresh sandboxes. */
  burstWarmUp: number[];
  /** p95 of each measured burst; `burst` is the median one. */
  burstP95s: number[];
}

const stats = (values: number[]): LatencyStats => ({
  count: values.length,
  p50: Math.round(percentile(values, 50)),
  p95: Math.round(percentile(values, 95)),
  max: Math.round(Math.max(...values)),
  min: Math.round(Math.min(...values)),
});

async function runPattern(
  stack: LocalStack,
  producer: ShardControlProducer,
  shardOf: Map<string, string>,
  groups: WorkspaceEvent[][],
  gapMs: number,
  /** Sent right before the first group, without waiting for it to be processed. */
  alongside?: () => Promise<unknown>,
): Promise<{ latencies: number[]; runtime: ReturnType<typeof diffStats>; cpuMs: number }> {
  const fleet = stack.fleet!;
  const nodesOf = new Map([...new Set(shardOf.values())].map((s) => [s, fleet.nodesOf(s)]));
  const before = runtimeStats(stack, 'workspace-lifecycle', 'workspace-lifecycle');
  const sentAt = new Map<string, number>();
  const all = groups.flat();
  const monitored = (workspaceId: string) => {
    const event = all.find((e) => e.data.workspaceId === workspaceId)!;
    const nodes = nodesOf.get(shardOf.get(event.data.locationId)!)!;
    return nodes.every((n) => n.state.stores.has(workspaceId));
  };
  // Duplicates count once: a workspace is done when its store is monitored.
  const ids = [...new Set(all.map((e) => e.data.workspaceId))];
  const cpu = process.cpuUsage();
  const polling = pollUntilDone(ids, monitored, 120_000, POLL_MS);
  for (const [i, group] of groups.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
    if (i === 0) await alongside?.();
    const t = performance.now();
    for (const e of group) sentAt.set(e.data.workspaceId, t);
    const out = await producer.sendWorkspaceEvents(group);
    if (out.failed.length > 0) throw new Error(`${out.failed.length} sends failed`);
  }
  const doneAt = await polling;
  const used = process.cpuUsage(cpu);
  await stack.waitForIdle(60_000);
  const latencies = ids.map((id) => doneAt.get(id)! - sentAt.get(id)!);
  if (latencies.some((ms) => ms < 0))
    throw new Error('a workspace was monitored before it was sent: reused ids?');
  return {
    cpuMs: Math.round((used.user + used.system) / 1000),
    latencies,
    runtime: diffStats(runtimeStats(stack, 'workspace-lifecycle', 'workspace-lifecycle'), before),
  };
}

async function run(): Promise<WorkspaceLatencyResult> {
  const stack = await startBenchStack({
    shards: SHARDS,
    nodesPerShard: NODES_PER_SHARD,
    nodeFaults: { latencyMs: NODE_LATENCY_MS },
  });
  try {
    const producer = new ShardControlProducer({ sqs: stack.sqs, queueUrls: stack.queues });
    const locations = Array.from({ length: LOCATIONS }, (_, i) => ({
      businessId: 'biz-bench-ws',
      locationId: `loc-${i}`,
      businessType: 'restaurant',
    }));
    await producer.sendShardCreates(locations);
    await stack.waitForIdle(60_000);
    const doc = DynamoDBDocumentClient.from(stack.ddb);
    const shardOf = new Map<string, string>();
    for (const l of locations) {
      const out = await doc.send(
        new GetCommand({
          TableName: stack.tableName,
          Key: keys.location(l.businessId, l.locationId),
        }),
      );
      const shardId = out.Item?.shardId as string | undefined;
      if (!shardId) throw new Error(`location ${l.locationId} was not registered`);
      shardOf.set(l.locationId, shardId);
    }
    const event = (id: string, i: number): WorkspaceEvent => ({
      type: 'workspace.created',
      data: {
        workspaceId: id,
        userId: `user-${id}`,
        businessId: 'biz-bench-ws',
        locationId: locations[i % LOCATIONS]!.locationId,
      },
    });
    // Every batch of the burst in flight at once, like many producers.
    const burstProducer = new ShardControlProducer({
      sqs: stack.sqs,
      queueUrls: stack.queues,
      concurrency: 64,
    });
    const burstOf = (round: number) => {
      const tag = round < WARMUP_BURSTS ? `warm${round}` : `burst${round - WARMUP_BURSTS}`;
      const events = Array.from({ length: BURST_WORKSPACES }, (_, i) => ({
        ...event(`ws-${tag}-${String(i).padStart(3, '0')}`, i),
        id: `00000000-0000-4000-8000-${String(round * 1000 + i).padStart(12, '0')}`,
      }));
      return runPattern(
        stack,
        burstProducer,
        shardOf,
        [[...events, ...events.slice(0, BURST_DUPLICATES)]],
        0,
        async () => {
          const out = await burstProducer.sendShardCreates(
            Array.from({ length: BURST_SHARD_CREATES }, (_, i) => ({
              businessId: 'biz-bench-ws',
              locationId: `${tag}-loc-${i}`,
              businessType: 'restaurant',
            })),
          );
          if (out.failed.length > 0) throw new Error(`${out.failed.length} sends failed`);
        },
      );
    };
    // Warm-up: bursts that start every sandbox of both functions and let V8 compile their hot
    // code (see WARMUP_BURSTS).
    const warmUp: number[] = [];
    for (let round = 0; round < WARMUP_BURSTS; round++) {
      warmUp.push(Math.round(percentile((await burstOf(round)).latencies, 95)));
    }
    const waveGroups = Array.from({ length: WAVES }, (_, w) =>
      Array.from({ length: PER_WAVE }, (_, i) =>
        event(`ws-wave-${w}-${String(i).padStart(2, '0')}`, w * PER_WAVE + i),
      ),
    );
    const waves = await runPattern(stack, producer, shardOf, waveGroups, WAVE_GAP_MS);
    const singleGroups = Array.from({ length: SINGLES }, (_, i) => [event(`ws-single-${i}`, i)]);
    const singles = await runPattern(stack, producer, shardOf, singleGroups, SINGLE_GAP_MS);

    // The measured bursts; the one with the median p95 is reported (the VM's speed moves).
    const bursts: Array<Awaited<ReturnType<typeof burstOf>>> = [];
    for (let i = 0; i < MEASURED_BURSTS; i++) bursts.push(await burstOf(WARMUP_BURSTS + i));
    const p95Of = (b: (typeof bursts)[number]) => percentile(b.latencies, 95);
    const burst = medianBy(bursts, p95Of);

    const m = stack.topology.mappings.find((x) => x.queueName === 'workspace-lifecycle')!;
    const pattern = (
      name: string,
      description: string,
      r: Awaited<ReturnType<typeof runPattern>>,
    ): PatternResult => ({
      pattern: name,
      description,
      latencyMs: stats(r.latencies),
      samplesMs: r.latencies.map((ms) => Math.round(ms)),
      cpuMs: r.cpuMs,
      runtime: r.runtime,
      meanBatchSize:
        r.runtime.invocations > 0
          ? Math.round((r.runtime.received / r.runtime.invocations) * 10) / 10
          : 0,
    });
    return {
      nodeLatencyMs: NODE_LATENCY_MS,
      shards: SHARDS,
      nodesPerShard: NODES_PER_SHARD,
      locations: LOCATIONS,
      targetP95Ms: TARGET_P95_MS,
      burstTargetP95Ms: BURST_TARGET_P95_MS,
      mapping: {
        batchSize: m.batchSize,
        maxBatchingWindowSeconds: m.maxBatchingWindowSeconds,
        maxConcurrency: m.maxConcurrency,
      },
      waves: pattern(
        'waves',
        `${WAVES} waves of ${PER_WAVE} (SendMessageBatch x${PER_WAVE / 10}), ${WAVE_GAP_MS} ms apart`,
        waves,
      ),
      singles: pattern(
        'singles',
        `${SINGLES} single messages, ${SINGLE_GAP_MS} ms apart (informational)`,
        singles,
      ),
      burst: pattern(
        'burst',
        `${BURST_WORKSPACES} + ${BURST_DUPLICATES} duplicates at once, ${BURST_SHARD_CREATES} shard.create in flight`,
        burst,
      ),
      burstWarmUp: warmUp,
      burstP95s: bursts.map((b) => Math.round(p95Of(b))),
    };
  } finally {
    await stack.stop();
  }
}

function format(r: WorkspaceLatencyResult): string {
  const m = r.mapping;
  const verdict = r.waves.latencyMs.p95 <= r.targetP95Ms ? 'PASS' : 'FAIL';
  const burstVerdict = r.burst.latencyMs.p95 <= r.burstTargetP95Ms ? 'PASS' : 'FAIL';
  return [
    `workspace.created -> store monitored on all ${r.nodesPerShard} nodes of its shard; node latency ${r.nodeLatencyMs} ms, ` +
      `${r.shards} shards, event source batch ${m.batchSize} / window ${m.maxBatchingWindowSeconds} s / concurrency ${m.maxConcurrency}`,
    table(
      [
        'pattern',
        'send pattern',
        'n',
        'p50 ms',
        'p95 ms',
        'max ms',
        'min ms',
        'invocations',
        'records/invocation',
        'cold starts',
        'CPU ms',
      ],
      [r.waves, r.singles, r.burst].map((p) => [
        p.pattern,
        p.description,
        p.latencyMs.count,
        p.latencyMs.p50,
        p.latencyMs.p95,
        p.latencyMs.max,
        p.latencyMs.min,
        p.runtime.invocations,
        p.meanBatchSize,
        p.runtime.coldStarts,
        p.cpuMs,
      ]),
    ),
    `burst p95 during the warm-up, first on fresh sandboxes: ${r.burstWarmUp.join(', ')} ms; measured: ${r.burstP95s.join(', ')} ms (median reported)`,
    `target p95 <= ${r.targetP95Ms} ms (waves): ${verdict} (p95 ${r.waves.latencyMs.p95} ms)`,
    `target p95 <= ${r.burstTargetP95Ms} ms (burst): ${burstVerdict} (p95 ${r.burst.latencyMs.p95} ms)`,
  ].join('\n');
}

export const workspaceLatency: Benchmark<WorkspaceLatencyResult> = {
  name: 'workspace-latency',
  description:
    'workspace.created send -> monitored on every node (p50/p95/max), node latency 20 ms, target p95 <= 1 s (waves), <= 1.5 s (burst)',
  run,
  format,
  passed: (r) =>
    r.waves.latencyMs.p95 <= r.targetP95Ms && r.burst.latencyMs.p95 <= r.burstTargetP95Ms,
};
