// The charts drawn from benchmark results, by benchmark name. They go to docs/bench/ (committed,
// shown in the README; bench/results/ is not): `npm run bench` redraws a benchmark's charts
// after running it, `npm run bench:charts` redraws them all from bench/results/*.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cdfChart, lineChart, type Point } from './charts.ts';
import type { ReconcileScaleResult } from './reconcile-scale.ts';
import type { ThroughputResult } from './shard-create-throughput.ts';
import type { PatternResult, WorkspaceLatencyResult } from './workspace-latency.ts';

export const FIGURES_DIR = fileURLToPath(new URL('../docs/bench/', import.meta.url));

export interface Figure {
  /** File name under docs/bench/. */
  file: string;
  svg: string;
}

interface AxisSeries {
  axis: string;
  name: string;
  points: Point[];
}

/** One series on each y axis; the right one dashed, so the two read apart without colour. */
const twoAxes = (c: {
  title: string;
  description: string;
  x: string;
  left: AxisSeries;
  right: AxisSeries;
}) =>
  lineChart({
    title: c.title,
    description: c.description,
    x: { label: c.x },
    y: { label: c.left.axis },
    y2: { label: c.right.axis },
    series: [
      { name: c.left.name, points: c.left.points },
      { name: c.right.name, points: c.right.points, axis: 'right', dashed: true },
    ],
  });

const throughput = (r: ThroughputResult): Figure[] => [
  {
    file: 'throughput-vs-node-latency.svg',
    svg: twoAxes({
      title: 'shard.create throughput vs node latency',
      description: `${r.locations} shard.create sent at once to the local stack, ${r.shards} shards x ${r.nodesPerShard} nodes: messages per second until every location is on every node of its shard, and the 95th percentile of a location's completion, at each simulated node latency.`,
      x: 'simulated node latency (ms)',
      left: {
        axis: 'throughput (msg/s)',
        name: 'throughput (msg/s, left)',
        points: r.runs.map((run) => [run.nodeLatencyMs, run.messagesPerSecond]),
      },
      right: {
        axis: 'p95 completion (ms)',
        name: 'p95 send -> on every node (ms, right)',
        points: r.runs.map((run) => [run.nodeLatencyMs, run.completionMs.p95]),
      },
    }),
  },
];

const patternName = (p: PatternResult) =>
  `${p.pattern} (n=${p.latencyMs.count}): p50 ${p.latencyMs.p50} ms, p95 ${p.latencyMs.p95} ms`;

const workspace = (r: WorkspaceLatencyResult): Figure[] =>
  // Results written before the samples were kept have nothing to draw.
  r.waves.samplesMs && r.singles.samplesMs
    ? [
        {
          file: 'workspace-latency.svg',
          svg: cdfChart({
            title: 'workspace.created -> store monitored on every node',
            description: `Cumulative distribution of the time from sending a workspace.created to its store being monitored on all ${r.nodesPerShard} nodes of its shard, node latency ${r.nodeLatencyMs} ms: workspaces sent in waves, and single messages that wait for the event source's ${r.mapping.maxBatchingWindowSeconds} s batching window.`,
            x: { label: 'send -> monitored on every node (ms)' },
            series: [
              { name: patternName(r.waves), values: r.waves.samplesMs },
              { name: patternName(r.singles), values: r.singles.samplesMs },
            ],
            references: [{ name: `target p95 ${r.targetP95Ms} ms`, x: r.targetP95Ms }],
          }),
        },
      ]
    : [];

const reconcileScale = (r: ReconcileScaleResult): Figure[] => {
  const resources = r.newNodes.map((n) => n.resources);
  return [
    {
      file: 'sweep-cost-vs-fleet-size.svg',
      svg: twoAxes({
        title: 'Quiet sweep cost vs fleet size',
        description:
          'DynamoDB requests and time of a reconcile sweep over a fleet whose topology has not changed since the previous sweep, at each number of shards (3 nodes each).',
        x: `shards (x ${r.sweeps[0]?.nodesPerShard ?? 3} nodes)`,
        left: {
          axis: 'DynamoDB requests',
          name: 'DynamoDB requests (left)',
          points: r.sweeps.map((s) => [s.shards, s.dynamoRequests]),
        },
        right: {
          axis: 'sweep time (ms)',
          name: 'time (ms, right)',
          points: r.sweeps.map((s) => [s.shards, s.ms]),
        },
      }),
    },
    {
      file: 'convergence-requests-vs-resources.svg',
      svg: lineChart({
        title: 'Requests to a new node vs resources in its shard',
        description:
          'HTTP requests a convergence sends a node that has just joined a shard, at each number of resources (stores and one schema) in the shard, against one request per resource. Both axes are logarithmic.',
        x: { label: 'resources in the shard (log)', log: true },
        y: { label: 'requests to the new node (log)', log: true },
        series: [
          {
            name: 'requests to the new node',
            points: r.newNodes.map((n) => [n.resources, n.requests]),
          },
          {
            name: 'one request per resource (y = x)',
            dashed: true,
            markers: false,
            points: [
              [Math.min(...resources), Math.min(...resources)],
              [Math.max(...resources), Math.max(...resources)],
            ],
          },
        ],
      }),
    },
  ];
};

// Each takes its own benchmark's result type; the caller pairs them by name.
const FIGURES: Record<string, (result: never) => Figure[]> = {
  'shard-create-throughput': throughput,
  'workspace-latency': workspace,
  'reconcile-scale': reconcileScale,
};

/** Draws a benchmark's charts into docs/bench/; returns the paths written, repo-relative. */
export function writeFigures(benchmark: string, result: object): string[] {
  const render = FIGURES[benchmark] as ((result: object) => Figure[]) | undefined;
  const figures = render?.(result) ?? [];
  if (figures.length > 0) mkdirSync(FIGURES_DIR, { recursive: true });
  return figures.map((f) => {
    writeFileSync(join(FIGURES_DIR, f.file), f.svg);
    return `docs/bench/${f.file}`;
  });
}
