// `npm run bench` runs every benchmark in sequence; `npm run bench -- bundles [other...]` only
// those. Each result goes to bench/results/<name>.json, and all of them into summary.json.
// Add a benchmark: a module under bench/ exporting a `Benchmark`, plus one line in BENCHMARKS.
// `--strict` exits 1 when a benchmark misses its targets (by default they are only reported).
// A benchmark with charts (bench/figures.ts) also redraws them into docs/bench/; `--charts`
// (`npm run bench:charts`) only redraws them from the results already in bench/results/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './benchmark.ts';
import { bundles } from './bundles.ts';
import { cost } from './cost.ts';
import { writeFigures } from './figures.ts';
import { reconcile } from './reconcile.ts';
import { reconcileScale } from './reconcile-scale.ts';
import { shardCreateThroughput } from './shard-create-throughput.ts';
import { sourceSync } from './source-sync.ts';
import { workspaceLatency } from './workspace-latency.ts';

export const BENCHMARKS: readonly Benchmark[] = [
  bundles as Benchmark,
  cost as Benchmark,
  shardCreateThroughput as Benchmark,
  workspaceLatency as Benchmark,
  reconcile as Benchmark,
  sourceSync as Benchmark,
  reconcileScale as Benchmark,
];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

interface SummaryEntry {
  finishedAt: string;
  durationMs: number;
  passed?: boolean;
  error?: string;
  result?: string;
}

function readSummary(path: string): Record<string, SummaryEntry> {
  if (!existsSync(path)) return {};
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as {
      benchmarks?: Record<string, SummaryEntry>;
    };
    return old.benchmarks ?? {};
  } catch {
    return {};
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const strict = argv.includes('--strict');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(', ')}; available: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
    );
    return 2;
  }
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  if (argv.includes('--charts')) return redrawCharts(selected);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const summaryPath = join(RESULTS_DIR, 'summary.json');
  // A partial run keeps the other benchmarks' last entries.
  const entries = readSummary(summaryPath);
  let exitCode = 0;

  for (const benchmark of selected) {
    console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
    const started = performance.now();
    try {
      const result = await benchmark.run();
      const durationMs = Math.round(performance.now() - started);
      const file = join(RESULTS_DIR, `${benchmark.name}.json`);
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      for (const chart of writeFigures(benchmark.name, result)) console.log(`   chart -> ${chart}`);
      const passed = benchmark.passed?.(result);
      console.log(benchmark.format ? benchmark.format(result) : JSON.stringify(result, null, 2));
      console.log(
        `-- ${benchmark.name}: ${passed === undefined ? 'done' : passed ? 'PASS' : 'FAIL'} in ${durationMs} ms -> bench/results/${benchmark.name}.json`,
      );
      entries[benchmark.name] = {
        finishedAt: new Date().toISOString(),
        durationMs,
        ...(passed === undefined ? {} : { passed }),
        result: `${benchmark.name}.json`,
      };
      if (strict && passed === false) exitCode = 1;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`-- ${benchmark.name}: ERROR ${message}`);
      entries[benchmark.name] = {
        finishedAt: new Date().toISOString(),
        durationMs: Math.round(performance.now() - started),
        error: message,
      };
      exitCode = 1;
    }
  }

  const summary = {
    updatedAt: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    benchmarks: entries,
  };
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  return exitCode;
}

function redrawCharts(selected: readonly Benchmark[]): number {
  for (const { name } of selected) {
    const file = join(RESULTS_DIR, `${name}.json`);
    if (!existsSync(file)) continue;
    const charts = writeFigures(name, JSON.parse(readFileSync(file, 'utf8')) as object);
    for (const chart of charts) console.log(`bench/results/${name}.json -> ${chart}`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
