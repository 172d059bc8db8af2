// Reconciliation at scale, in-process with the real adapters (the state stores on the local DynamoDB
// emulator, CitrusClient and NodeAgentClient over HTTP to the simulators) and the real domain
// (runSweep, convergeShard with the database strategy):
// 1. a quiet sweep over 10,000 shards x 3 nodes: DynamoDB requests (SDK middleware) and time;
// 2. a new node converged into a shard holding 10,000 stores + 1 schema: requests to it, time;
// 3. a 50-node shard with 5 nodes down vs a 1-node shard, at the function's node parallelism
//    and one node after another; and the same HTTP alone against bare servers (the floor),
//    its runs interleaved with the convergence's; the function thread's CPU time per extra
//    live node; the CPU time of every thread during a run (function, nodes, DynamoDB, V8's
//    helpers); a quiet re-convergence's requests.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL } from '../local/defaults.ts';
import { startCitrus } from '../local/simulators/citrus.ts';
import { startNodeAgent } from '../local/simulators/node-agent.ts';
import { CitrusClient } from '../shared/adapters/citrus-client.ts';
import { sendJson } from '../shared/adapters/http.ts';
import { NodeAgentClient } from '../shared/adapters/node-agent-client.ts';
import { MAX_APPLY_IDS } from '../shared/contracts/node-agent.ts';
import { SigningKeys, signRequest } from '../shared/contracts/signing.ts';
import { CONVERGENCE_NODE_PARALLELISM, convergeShard } from '../shared/domain/convergence.ts';
import { roleStrategies } from '../shared/domain/roles/registry.ts';
import { Secret } from '../shared/domain/secret.ts';
import { runSweep, topologyDigest } from '../shared/domain/sweep.ts';
import { createStores, type TableStores } from '../shared/store/index.ts';
import { keys, WORK, workEntry } from '../shared/store/schema.ts';
import { createStateTable, localDynamoDb } from '../test/support/table.ts';
import { type Benchmark, round, table } from './benchmark.ts';
import { batchWrite as batchWriteItems, countRequests } from './support/dynamodb.ts';
import { startBareNodes, startRemoteDynamoDb, startRemoteNodes } from './support/remote.ts';
import { osThreadId, processThreadsCpuMs, threadCpuMs } from './support/thread-cpu.ts';

export const TARGETS = {
  quietSweepRequests: 20,
  quietSweepMs: 1_000,
  /** 50 nodes with 5 offline vs the same fan-out's HTTP alone (this machine's floor). */
  fleetVsFloor: 1.25,
  /** The function thread's busy time per live node beyond the first. */
  busyPerExtraNodeMs: 2,
  /** A converged shard converged again: lease, two reads, verdict; no node record. */
  quietConvergenceRequests: 4,
} as const;
const SHARDS = 10_000;
const NODES_PER_SHARD = 3;
const BIG_SHARD_STORES = 10_000;
const FLEET_NODES = 50;
const FLEET_OFFLINE = 5;
const FLEET_STORES = 100;
/** Each convergence case runs this many times on fresh shards; the median is reported. */
const FLEET_RUNS = 5;
/** Each node request's simulated latency; BENCH_NODE_LATENCY_MS shows how the ratio depends on it. */
const NODE_LATENCY_MS = Number(process.env.BENCH_NODE_LATENCY_MS ?? 20);
/** Unique per table: an external DynamoDB (BENCH_DYNAMODB_URL) outlives one run. */
const TABLE_PREFIX = `shard-control-bench-${Date.now()}`;
let tables = 0;
const SIGNING = SigningKeys.parse(JSON.parse(LOCAL.nodeSigningKeys));

export interface ReconcileResult {
  quietSweep: {
    shards: number;
    nodesPerShard: number;
    dynamoRequests: number;
    byOperation: Record<string, number>;
    ms: number;
    citrusPages: number;
    jobs: number;
  };
  newNode: {
    resources: number;
    requests: number;
    requestBound: number;
    byRequest: Record<string, number>;
    ms: number;
    holdsAll: boolean;
  };
  fleet: Array<{
    case: string;
    nodes: number;
    offline: number;
    nodeParallelism: number;
    /** Median of FLEET_RUNS runs. */
    ms: number;
    runsMs: number[];
    /** Median CPU time of the function's thread, ms. */
    busyMs: number;
    /** Median CPU time of each thread during a run, ms. */
    threadsCpuMs: ThreadsCpu;
  }>;
  fleetRatio: number;
  /** Median 50-node convergence over median floor; the runs of the two are interleaved. */
  fleetVsFloor: number;
  /** Median of run k's convergence over run k's floor (which ran just before it). */
  fleetVsFloorPaired: number;
  busyPerExtraNodeMs: number;
  /** The converged 1-node shard converged again with nothing changed. */
  quietConvergence: { dynamoRequests: number; byOperation: Record<string, number> };
  /** The fleet case's HTTP pattern alone, against bare servers: what this machine allows. */
  httpFloor: {
    oneNodeMs: number;
    fleetMs: number;
    ratio: number;
    oneNodeRunsMs: number[];
    fleetRunsMs: number[];
    threadsCpuMs: ThreadsCpu;
  };
  /**
   * Informative, not the target's floor: the same requests signed, against the node agent
   * simulators (their signature checks, validation and state included), 50 nodes, 5 down.
   */
  signedFloor: { fleetMs: number; runsMs: number[]; threadsCpuMs: ThreadsCpu };
  fleetVsSignedFloor: number;
}

/** A state table, its stores, and a counter of the requests sent to it. */
export interface BenchTable {
  client: DynamoDBClient;
  table: string;
  stores: TableStores;
  counter: ReturnType<typeof countRequests>;
  /** OS id of the emulator's thread (processThreadsCpuMs); undefined on BENCH_DYNAMODB_URL. */
  dynamoTid?: number;
}

/**
 * Runs `fn` against a new state table on a DynamoDB emulator started for it (or on
 * BENCH_DYNAMODB_URL, e.g. AWS's DynamoDB Local, to tell the emulator's costs from the code's:
 * dynalite executes writes one at a time). The sweep keeps its state in the table, so each
 * fleet measured needs a table of its own.
 */
export async function withStateTable<T>(fn: (db: BenchTable) => Promise<T>): Promise<T> {
  const external = process.env.BENCH_DYNAMODB_URL;
  const dynamo = external
    ? { url: external, tid: undefined, stop: async () => undefined }
    : await startRemoteDynamoDb();
  const client = localDynamoDb(dynamo.url);
  const table = `${TABLE_PREFIX}-${++tables}`;
  try {
    await createStateTable(client, table);
    const stores = createStores({ tableName: table, client });
    return await fn({
      client,
      table,
      stores,
      counter: countRequests(client),
      dynamoTid: dynamo.tid,
    });
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}

const batchWrite = ({ client, table }: BenchTable, items: Array<Record<string, unknown>>) =>
  batchWriteItems(client, table, items);

const stamp = {
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const shardItem = (shardId: string) => ({
  ...keys.shard(shardId),
  ...stamp,
  type: 'shard',
  shardId,
  role: 'database',
  status: 'active',
});
const nodeItem = (shardId: string, nodeId: string, endpoint: string, status = 'active') => ({
  ...keys.node(shardId, nodeId),
  ...stamp,
  type: 'node',
  shardId,
  nodeId,
  endpoint,
  status,
  consecutiveFailures: 0,
  ...(status === 'joining' ? workEntry(WORK.nodeJoining, stamp.createdAt, shardId, nodeId) : {}),
});
const storeItem = (shardId: string, workspaceId: string) => ({
  ...keys.store(shardId, workspaceId),
  ...stamp,
  type: 'resource',
  kind: 'store',
  shardId,
  workspaceId,
  status: 'active',
  eventKey: stamp.createdAt,
});
const schemaItem = (shardId: string, businessId: string, locationId: string) => ({
  ...keys.schema(shardId, businessId, locationId),
  ...stamp,
  type: 'resource',
  kind: 'schema',
  shardId,
  businessId,
  locationId,
  businessType: 'restaurant',
  status: 'active',
});

const nodeAgent = () => new NodeAgentClient({ signingKeys: new Secret(SIGNING), timeoutMs: 3_000 });

async function converge(stores: TableStores, shardId: string, nodeParallelism: number) {
  const agent = nodeAgent();
  const cpu = threadCpuMs();
  const started = performance.now();
  const result = await convergeShard(
    shardId,
    `bench-${shardId}-${nodeParallelism}`,
    { stores, strategyFor: roleStrategies(agent) },
    { orphanGraceMs: 3_600_000, leaseMs: 120_000, nodeParallelism },
  );
  const ms = performance.now() - started;
  // The nodes and DynamoDB run on other threads: this is the function's own work.
  const busyMs = threadCpuMs() - cpu;
  return { ms, busyMs, result };
}

/**
 * Sweeps over `shardCount` shards whose topology has not changed since a first sweep:
 * `runs` of them, the median time reported (one run is at the mercy of a busy shared core).
 */
export async function quietSweep(db: BenchTable, shardCount = SHARDS, runs = 1) {
  const { stores, counter } = db;
  const endpoint = 'http://127.0.0.1:9/unused';
  const shards = Array.from({ length: shardCount }, (_, i) => {
    const shardId = `big-${String(i).padStart(5, '0')}`;
    return {
      shardId,
      role: 'database',
      nodes: Array.from({ length: NODES_PER_SHARD }, (_, n) => ({
        nodeId: `${shardId}-node-${n + 1}`,
        endpoint,
      })),
    };
  });
  const items: Array<Record<string, unknown>> = [];
  for (const s of shards) {
    items.push(shardItem(s.shardId));
    for (const n of s.nodes) items.push(nodeItem(s.shardId, n.nodeId, n.endpoint));
  }
  await batchWrite(db, items);
  // What a first sweep over this fleet records: one digest per shard, in 16 chunk items.
  await stores.sweeps.saveTopologyDigests(
    new Map(shards.map((s) => [s.shardId, topologyDigest(s)])),
    shards.map((s) => s.shardId),
  );

  const citrus = await startCitrus({ apiKey: LOCAL.citrusApiKey, shards });
  let pages = 0;
  const client2 = new CitrusClient({
    baseUrl: citrus.url,
    apiKey: new Secret(LOCAL.citrusApiKey),
    timeoutMs: 5_000,
    attempts: 1,
  });
  const ports = {
    stores,
    citrus: {
      shardHealthPage: (cursor?: string, limit?: number) => {
        pages++;
        return client2.shardHealthPage(cursor, limit);
      },
    },
    enqueue: async () => [] as string[],
    remainingMs: () => 900_000,
  };
  const settings = {
    enabled: true,
    fullVerifyEvery: 1_000,
    reserveMs: 15_000,
  };
  try {
    await runSweep(ports, settings);
    const runsMs: number[] = [];
    let result: Awaited<ReturnType<typeof runSweep>> | undefined;
    for (let run = 0; run < runs; run++) {
      counter.reset();
      pages = 0;
      const started = performance.now();
      result = await runSweep(ports, settings);
      runsMs.push(performance.now() - started);
    }
    return {
      shards: shardCount,
      nodesPerShard: NODES_PER_SHARD,
      dynamoRequests: counter.total(),
      byOperation: counter.byOperation(),
      ms: median(runsMs),
      ...(runs > 1 ? { runsMs: runsMs.map((ms) => round(ms)) } : {}),
      citrusPages: pages,
      jobs: result?.outcome === 'swept' ? result.jobs : -1,
    };
  } finally {
    await citrus.stop();
  }
}

/** A node that has just joined a shard of `storeCount` stores and 1 schema, converged. */
export async function newNode(db: BenchTable, storeCount = BIG_SHARD_STORES) {
  const shardId = `stores-${storeCount}`;
  const node = await startNodeAgent({ nodeId: `${shardId}-node-new`, signingKeys: SIGNING });
  try {
    const items: Array<Record<string, unknown>> = [
      shardItem(shardId),
      nodeItem(shardId, node.nodeId, node.url, 'joining'),
      schemaItem(shardId, 'biz-bench', 'loc-1'),
    ];
    for (let i = 0; i < storeCount; i++) {
      items.push(storeItem(shardId, `ws-${String(i).padStart(5, '0')}`));
    }
    await batchWrite(db, items);
    const { ms } = await converge(db.stores, shardId, CONVERGENCE_NODE_PARALLELISM);
    const resources = storeCount + 1;
    const byRequest: Record<string, number> = {};
    for (const r of node.requests) {
      const key = `${r.method} ${r.path.split('?')[0]}`;
      byRequest[key] = (byRequest[key] ?? 0) + 1;
    }
    return {
      resources,
      requests: node.requests.length,
      requestBound: Math.ceil(resources / MAX_APPLY_IDS) + 3,
      byRequest,
      ms: round(ms),
      holdsAll: node.state.stores.size === storeCount && node.state.schemas.size === 1,
    };
  } finally {
    await node.stop();
  }
}

/** CPU time, ms, of the threads a measured run kept busy (medians over the runs). */
export interface ThreadsCpu {
  /** The caller's thread: the function's code, or the floor's bare HTTP client. */
  caller: number;
  /** The thread of the simulated (or bare) nodes. */
  nodes: number;
  /** The DynamoDB emulator's thread; absent where the run does not use it. */
  dynamodb?: number;
  /** Every other thread of the process: V8's GC and compiler helpers, libuv's pool. */
  other: number;
}

/** Wall time of one measured run and the CPU time each thread spent meanwhile. */
interface Measured {
  ms: number;
  cpu: ThreadsCpu;
}

const MAIN_THREAD = osThreadId();

/**
 * Runs `work` and measures it: wall time, and CPU time per thread from two snapshots of all of
 * the process's threads (the snapshots are taken outside the timed span).
 */
async function measured(
  threads: { nodes?: number; dynamodb?: number },
  work: () => Promise<unknown>,
): Promise<Measured> {
  const before = processThreadsCpuMs();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const after = processThreadsCpuMs();
  const spent = (tid: number | undefined) =>
    tid === undefined ? Number.NaN : (after.get(tid) ?? Number.NaN) - (before.get(tid) ?? 0);
  let total = 0;
  for (const [tid, cpu] of after) total += cpu - (before.get(tid) ?? 0);
  const caller = spent(MAIN_THREAD);
  const nodes = spent(threads.nodes);
  const dynamodb = threads.dynamodb === undefined ? undefined : spent(threads.dynamodb);
  const other = total - caller - (nodes || 0) - (dynamodb || 0);
  return { ms, cpu: { caller, nodes, ...(dynamodb === undefined ? {} : { dynamodb }), other } };
}

const medianThreads = (runs: ThreadsCpu[]): ThreadsCpu => {
  const of = (pick: (t: ThreadsCpu) => number | undefined) => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  const dynamodb = of((t) => t.dynamodb);
  return {
    caller: of((t) => t.caller) ?? Number.NaN,
    nodes: of((t) => t.nodes) ?? Number.NaN,
    ...(dynamodb === undefined ? {} : { dynamodb }),
    other: of((t) => t.other) ?? Number.NaN,
  };
};

interface FleetCase {
  case: string;
  nodes: number;
  offline: number;
  nodeParallelism: number;
}

const FLEET_CASES = {
  one: { case: '1 node', nodes: 1, offline: 0, nodeParallelism: CONVERGENCE_NODE_PARALLELISM },
  many: {
    case: `${FLEET_NODES} nodes, ${FLEET_OFFLINE} down`,
    nodes: FLEET_NODES,
    offline: FLEET_OFFLINE,
    nodeParallelism: CONVERGENCE_NODE_PARALLELISM,
  },
  sequential: {
    case: `${FLEET_NODES} nodes, ${FLEET_OFFLINE} down, one after another`,
    nodes: FLEET_NODES,
    offline: FLEET_OFFLINE,
    nodeParallelism: 1,
  },
} satisfies Record<string, FleetCase>;

/** Node specs of a case: the first `offline` are down, the others answer after the latency. */
const nodeSpecs = (prefix: string, c: { nodes: number; offline: number }) =>
  Array.from({ length: c.nodes }, (_, i) => ({
    nodeId: `${prefix}-node-${i + 1}`,
    faults: i < c.offline ? { down: true } : { latencyMs: NODE_LATENCY_MS },
  }));

/**
 * The parallel convergences and the HTTP floor they are read against, interleaved: run k of
 * the floor, then run k of the convergence, for 1 node and then 50, FLEET_RUNS times. Load
 * from the rest of the shared machine then lands on both rather than on whichever ran during
 * it. The one-after-another case (no floor) follows. Nodes and bare servers are long-lived, as
 * agents are in production: started once per case, emptied before each run, and one unmeasured
 * round first, so no run measures a freshly started thread's JIT warm-up (on both sides alike).
 */
async function fleetAndFloor(db: BenchTable) {
  const { stores, counter } = db;
  // Workers are stopped at the end: one torn down between runs would still be freeing its
  // heap, on the same 2 cores, during the next measured run.
  const workers: Array<{ stop(): Promise<void> }> = [];
  // The nodes run on their own thread, as they run on their own machines in production; on
  // the function's thread their request handling would be counted as convergence time.
  const started = new Map<string, Promise<unknown>>();
  const once = <T extends { stop(): Promise<void> }>(key: string, start: () => Promise<T>) => {
    if (!started.has(key))
      started.set(
        key,
        start().then((w) => {
          workers.push(w);
          return w;
        }),
      );
    return started.get(key) as Promise<T>;
  };
  const nodesOf = async (c: FleetCase, prefix: string) => {
    const remote = await once(prefix, () => startRemoteNodes(nodeSpecs(prefix, c), SIGNING));
    await remote.reset();
    return remote;
  };
  const convergeRun = async (c: FleetCase, shardId: string) => {
    const remote = await nodesOf(c, `nodes-${c.nodes}`);
    await batchWrite(db, [
      shardItem(shardId),
      schemaItem(shardId, `biz-${shardId}`, 'loc-1'),
      ...remote.nodes.map((n) => nodeItem(shardId, n.nodeId, n.url)),
      ...Array.from({ length: FLEET_STORES }, (_, i) => storeItem(shardId, `ws-${shardId}-${i}`)),
    ]);
    // Every node starts empty: each run pushes the whole shard to every reachable node.
    let busyMs = 0;
    const run = await measured({ nodes: remote.tid, dynamodb: db.dynamoTid }, async () => {
      busyMs = (await converge(stores, shardId, c.nodeParallelism)).busyMs;
    });
    return { ...run, busyMs };
  };
  const floorRun = async (c: FleetCase, signed: boolean) => {
    if (signed) {
      const remote = await nodesOf(c, `floor-${c.nodes}`);
      const urls = remote.nodes.map((n) => n.url);
      return measured({ nodes: remote.tid }, () => Promise.all(urls.map(floorExchanges(true))));
    }
    const bare = await once(`bare-${c.nodes}`, () =>
      startBareNodes(
        Array.from({ length: c.nodes }, (_, i) => ({ down: i < c.offline })),
        NODE_LATENCY_MS,
      ),
    );
    return measured({ nodes: bare.tid }, () => Promise.all(bare.urls.map(floorExchanges(false))));
  };
  type Runs = Array<Measured & { busyMs: number }>;
  const fleetRuns = { one: [] as Runs, many: [] as Runs, sequential: [] as Runs };
  const floorRuns = { one: [] as Measured[], many: [] as Measured[], signed: [] as Measured[] };
  let quiet = { dynamoRequests: 0, byOperation: {} as Record<string, number> };
  try {
    // Run -1 warms every server and code path up and is not recorded.
    const record = <T>(runs: T[], run: number, value: T) => run >= 0 && runs.push(value);
    for (let run = -1; run < FLEET_RUNS; run++) {
      for (const size of ['one', 'many'] as const) {
        const c = FLEET_CASES[size];
        record(floorRuns[size], run, await floorRun(c, false));
        if (size === 'many') record(floorRuns.signed, run, await floorRun(c, true));
        const shardId = `fleet-${size === 'one' ? 0 : 1}-${run + 1}`;
        record(fleetRuns[size], run, await convergeRun(c, shardId));
        if (size === 'one' && run === 0) {
          // The converged shard converged again, nothing changed: no node record is written.
          counter.reset();
          await converge(stores, shardId, c.nodeParallelism);
          quiet = { dynamoRequests: counter.total(), byOperation: counter.byOperation() };
        }
      }
    }
    for (let run = 0; run < FLEET_RUNS; run++) {
      fleetRuns.sequential.push(await convergeRun(FLEET_CASES.sequential, `fleet-2-${run}`));
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  const rows = (['one', 'many', 'sequential'] as const).map((size) => {
    const runs = fleetRuns[size];
    return {
      ...FLEET_CASES[size],
      ms: median(runs.map((r) => r.ms)),
      runsMs: runs.map((r) => round(r.ms)),
      busyMs: median(runs.map((r) => r.busyMs)),
      threadsCpuMs: roundThreads(medianThreads(runs.map((r) => r.cpu))),
    };
  });
  const floorOf = (runs: Measured[]) => ({
    ms: median(runs.map((r) => r.ms)),
    runsMs: runs.map((r) => round(r.ms)),
    threadsCpuMs: roundThreads(medianThreads(runs.map((r) => r.cpu))),
  });
  const one = floorOf(floorRuns.one);
  const many = floorOf(floorRuns.many);
  const httpFloor = {
    oneNodeMs: one.ms,
    fleetMs: many.ms,
    ratio: round(many.ms / one.ms, 2),
    oneNodeRunsMs: one.runsMs,
    fleetRunsMs: many.runsMs,
    threadsCpuMs: many.threadsCpuMs,
  };
  const signed = floorOf(floorRuns.signed);
  // Run k of the fleet over run k of the floor, which ran just before it.
  const paired = fleetRuns.many.map((r, i) => r.ms / (floorRuns.many[i] as Measured).ms);
  return {
    rows,
    quiet,
    httpFloor,
    signedFloor: { fleetMs: signed.ms, runsMs: signed.runsMs, threadsCpuMs: signed.threadsCpuMs },
    fleetVsFloorPaired: round(median(paired), 2),
  };
}

const roundThreads = (t: ThreadsCpu): ThreadsCpu => ({
  caller: round(t.caller),
  nodes: round(t.nodes),
  ...(t.dynamodb === undefined ? {} : { dynamodb: round(t.dynamodb) }),
  other: round(t.other),
});

function median(values: number[]): number {
  return round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
}

const FLOOR_APPLY_BODY = JSON.stringify({
  ensure: Array.from({ length: FLEET_STORES }, (_, i) => `ws-fleet-0-0-${i}`),
  remove: [],
});
const FLOOR_SCHEMA_BODY = JSON.stringify({
  ensure: [{ businessId: 'biz-floor', locationId: 'loc-1', businessType: 'restaurant' }],
  remove: [],
});

/**
 * The floor: the same requests a convergence sends each node (health; both listings; both
 * applies, the stores one carrying FLEET_STORES ids), from the same HTTP layer, to servers that
 * do nothing but answer after NODE_LATENCY_MS. No DynamoDB, signatures or validation: the time
 * 45 nodes' worth of HTTP takes on this machine's 2 cores, against which the fleet ratio is
 * read. `signed` (informative, not the target's floor): the same requests signed, to the node
 * agent simulators the convergence talks to, still without DynamoDB or any client-side work.
 */
const floorExchanges = (signed: boolean) => async (url: string) => {
  const call = (path: string, body?: string) => {
    const method = body ? 'POST' : 'GET';
    const headers = signed
      ? {
          ...signRequest(SIGNING.current, method, path, body ?? ''),
          ...(body ? { 'content-type': 'application/json' } : {}),
        }
      : undefined;
    return sendJson({ method, url: `${url}${path}`, headers, body, timeoutMs: 3_000 });
  };
  try {
    await call('/v1/health');
  } catch {
    return; // unreachable: skipped, as convergence skips it
  }
  await Promise.all([call('/v1/schemas'), call('/v1/stores')]);
  await Promise.all([
    call('/v1/schemas:apply', signed ? FLOOR_SCHEMA_BODY : '{"ensure":[],"remove":[]}'),
    call('/v1/stores:apply', FLOOR_APPLY_BODY),
  ]);
};

export const reconcile: Benchmark<ReconcileResult> = {
  name: 'reconcile',
  description: `quiet sweep over ${SHARDS} shards x ${NODES_PER_SHARD} nodes; a new node into a ${BIG_SHARD_STORES}-store shard; a ${FLEET_NODES}-node shard with ${FLEET_OFFLINE} down (${NODE_LATENCY_MS} ms node latency)`,
  run: () =>
    withStateTable(async (db) => {
      const quiet = await quietSweep(db);
      const node = await newNode(db);
      const fleetRun = await fleetAndFloor(db);
      const [one, many] = [fleetRun.rows[0]!, fleetRun.rows[1]!];
      const floor = fleetRun.httpFloor;
      return {
        quietSweep: quiet,
        newNode: node,
        fleet: fleetRun.rows,
        fleetRatio: round(many.ms / one.ms, 2),
        fleetVsFloor: round(many.ms / floor.fleetMs, 2),
        fleetVsFloorPaired: fleetRun.fleetVsFloorPaired,
        busyPerExtraNodeMs: round((many.busyMs - one.busyMs) / (many.nodes - many.offline - 1), 2),
        quietConvergence: fleetRun.quiet,
        httpFloor: floor,
        signedFloor: fleetRun.signedFloor,
        fleetVsSignedFloor: round(many.ms / fleetRun.signedFloor.fleetMs, 2),
      };
    }),
  format(r) {
    return [
      table(
        ['measure', 'value', 'target'],
        [
          [
            'quiet sweep: DynamoDB requests',
            r.quietSweep.dynamoRequests,
            `<= ${TARGETS.quietSweepRequests}`,
          ],
          ['quiet sweep: ms', r.quietSweep.ms, `<= ${TARGETS.quietSweepMs}`],
          ['quiet sweep: Citrus pages', r.quietSweep.citrusPages, ''],
          ['new node: requests to it', r.newNode.requests, `<= ${r.newNode.requestBound}`],
          ['new node: ms', r.newNode.ms, ''],
          ['50 nodes (5 down) / 1 node', r.fleetRatio, ''],
          [
            `50 nodes (5 down) / HTTP alone (${r.httpFloor.fleetMs} ms)`,
            r.fleetVsFloor,
            `<= ${TARGETS.fleetVsFloor}`,
          ],
          [
            'function thread CPU ms per extra live node',
            r.busyPerExtraNodeMs,
            `<= ${TARGETS.busyPerExtraNodeMs}`,
          ],
          [
            'quiet re-convergence: DynamoDB requests',
            r.quietConvergence.dynamoRequests,
            `<= ${TARGETS.quietConvergenceRequests}`,
          ],
          [
            `HTTP alone, bare servers: ${r.httpFloor.fleetMs} / ${r.httpFloor.oneNodeMs} ms`,
            r.httpFloor.ratio,
            '',
          ],
          ['50 nodes (5 down) / HTTP alone, run by run (median)', r.fleetVsFloorPaired, ''],
          [
            `informative: 50 nodes (5 down) / signed HTTP alone to the node simulators (${r.signedFloor.fleetMs} ms)`,
            r.fleetVsSignedFloor,
            '',
          ],
        ],
      ),
      '',
      table(
        ['convergence', 'nodes', 'down', 'parallelism', 'ms', 'CPU ms'],
        r.fleet.map((f) => [f.case, f.nodes, f.offline, f.nodeParallelism, f.ms, round(f.busyMs)]),
      ),
      '',
      // Where a run's wall time goes: on 2 shared cores, the threads' CPU adds up.
      table(
        ['CPU ms per run (medians)', 'wall ms', 'caller', 'nodes', 'DynamoDB', 'other', 'sum'],
        (
          [
            ...r.fleet.map((f) => [`convergence, ${f.case}`, f.ms, f.threadsCpuMs]),
            ['HTTP alone, bare servers, 50 nodes', r.httpFloor.fleetMs, r.httpFloor.threadsCpuMs],
            [
              'informative: signed HTTP alone, node simulators, 50 nodes',
              r.signedFloor.fleetMs,
              r.signedFloor.threadsCpuMs,
            ],
          ] as Array<[string, number, ThreadsCpu]>
        ).map(([name, ms, t]) => [
          name,
          ms,
          t.caller,
          t.nodes,
          t.dynamodb ?? '',
          t.other,
          round(t.caller + t.nodes + (t.dynamodb ?? 0) + t.other),
        ]),
      ),
      "caller: the function (or the floor's client); nodes: the simulators' or bare servers' thread;",
      'other: V8 and libuv helper threads of the process.',
      '',
      `quiet sweep DynamoDB requests by operation: ${JSON.stringify(r.quietSweep.byOperation)}`,
      `new node requests: ${JSON.stringify(r.newNode.byRequest)}`,
      `quiet re-convergence by operation: ${JSON.stringify(r.quietConvergence.byOperation)}`,
    ].join('\n');
  },
  passed(r) {
    return (
      r.quietSweep.dynamoRequests <= TARGETS.quietSweepRequests &&
      r.quietSweep.ms <= TARGETS.quietSweepMs &&
      r.newNode.holdsAll &&
      r.newNode.requests <= r.newNode.requestBound &&
      r.fleetVsFloor <= TARGETS.fleetVsFloor &&
      r.busyPerExtraNodeMs <= TARGETS.busyPerExtraNodeMs &&
      r.quietConvergence.dynamoRequests <= TARGETS.quietConvergenceRequests
    );
  },
};
