// How reconciliation's costs grow, as series for the charts (bench/figures.ts):
// 1. a quiet sweep at several fleet sizes (BENCH_SWEEP_SIZES shards x 3 nodes): DynamoDB
//    requests and time; each size on a table of its own, since the sweep keeps state there;
// 2. a new node converged into shards of several sizes (BENCH_CONVERGE_RESOURCES: one schema,
//    the rest stores): requests to the node, against one request per resource.
// The single-size figures and their targets are `npm run bench -- reconcile`.
import { type Benchmark, numbersFromEnv, table } from './benchmark.ts';
import { newNode, quietSweep, withStateTable } from './reconcile.ts';

const SWEEP_SIZES = numbersFromEnv('BENCH_SWEEP_SIZES', [1_000, 5_000, 10_000, 20_000]);
/** Quiet sweeps measured per fleet size; the median is charted. */
const SWEEP_RUNS = 3;
const CONVERGE_RESOURCES = numbersFromEnv('BENCH_CONVERGE_RESOURCES', [10, 100, 1_000, 10_000]);

export interface ReconcileScaleResult {
  sweeps: Array<Awaited<ReturnType<typeof quietSweep>>>;
  newNodes: Array<Awaited<ReturnType<typeof newNode>>>;
}

export const reconcileScale: Benchmark<ReconcileScaleResult> = {
  name: 'reconcile-scale',
  description: `quiet sweep at ${SWEEP_SIZES.join(' / ')} shards; a new node into shards of ${CONVERGE_RESOURCES.join(' / ')} resources`,
  async run() {
    const sweeps = [];
    for (const shards of SWEEP_SIZES) {
      const sweep = await withStateTable((db) => quietSweep(db, shards, SWEEP_RUNS));
      console.log(
        `  quiet sweep, ${shards} shards: ${sweep.dynamoRequests} requests, ${sweep.ms} ms`,
      );
      sweeps.push(sweep);
    }
    // One table: each shard converges on its own, the others do not change its requests.
    const newNodes = await withStateTable(async (db) => {
      const rows = [];
      for (const resources of CONVERGE_RESOURCES) rows.push(await newNode(db, resources - 1));
      return rows;
    });
    return { sweeps, newNodes };
  },
  format(r) {
    return [
      table(
        ['quiet sweep: shards', 'DynamoDB requests', 'median ms', 'runs ms', 'Citrus pages'],
        r.sweeps.map((s) => [
          s.shards,
          s.dynamoRequests,
          s.ms,
          (s.runsMs ?? []).join(' / '),
          s.citrusPages,
        ]),
      ),
      '',
      table(
        ['new node: resources', 'requests to it', 'bound', 'ms', 'holds all'],
        r.newNodes.map((n) => [n.resources, n.requests, n.requestBound, n.ms, String(n.holdsAll)]),
      ),
    ].join('\n');
  },
  passed: (r) => r.newNodes.every((n) => n.holdsAll && n.requests <= n.requestBound),
};
