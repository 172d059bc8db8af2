// Bundle size and cold module load of every Lambda function, exactly as `cdk synth` bundles
// them (synthesized in-process), against the targets. Reports; never changes code.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { buildApp } from '../infra/app.ts';
import { LAMBDA_BUNDLE } from '../infra/bundling.ts';
import { PROJECT_ROOT } from '../infra/paths.ts';
import { type Benchmark, median, round, table } from './benchmark.ts';

/** Issue targets. "500 KB" read as decimal (500,000 bytes): a PASS holds under either reading. */
export const TARGETS = { bundleBytes: 500_000, loadMs: 130 } as const;
const RUNS = 5;
const TOP = 10;

export interface LoadStats {
  /** `performance.now()` around `await import(bundle)` in a fresh process: median, all runs. */
  importMs: number;
  importRunsMs: number[];
  /** Spawn to exit of the whole process (node start + import), median. */
  processMs: number;
}

export interface Contributor {
  name: string;
  bytes: number;
  /** For packages: who pulls it in (other packages or project files), to know what to trim. */
  importedBy?: string[];
}

export interface FunctionResult {
  name: string;
  logicalId: string;
  bundleBytes: number;
  bundleKiB: number;
  gzipBytes: number;
  gzipKiB: number;
  /** Everything Lambda would receive (the bundle plus its source map). */
  assetBytes: number;
  /** As deployed: with the template's NODE_OPTIONS, if it sets any. */
  load: LoadStats;
  /** Same bundle without NODE_OPTIONS, to show what flags such as `--enable-source-maps` cost. */
  loadWithoutNodeOptions: LoadStats;
  nodeOptions: string | undefined;
  sizePass: boolean;
  loadPass: boolean;
  analysis?: {
    /** Output bytes esbuild reports with the infra options; should equal bundleBytes. */
    outputBytes: number;
    topInputs: Contributor[];
    topPackages: Contributor[];
  };
  error?: string;
}

export interface BundlesResult {
  node: string;
  targets: typeof TARGETS;
  runs: number;
  synthMs: number;
  /** `node -e 0`, spawn to exit, median. */
  baselineProcessMs: number;
  functions: FunctionResult[];
}

interface TemplateResource {
  Type: string;
  Metadata?: Record<string, unknown>;
  Properties?: { Environment?: { Variables?: Record<string, unknown> } };
}

const DUMMY_QUEUE_URL = 'http://127.0.0.1:1/000000000000/q';

/** The env a bundle reads at import; unresolvable template values (Refs) become dummies. */
function envFor(name: string, templateVars: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(templateVars)) {
    if (typeof value === 'string') env[key] = value;
    else env[key] = key.endsWith('_URL') ? DUMMY_QUEUE_URL : 'bench';
  }
  return {
    ...env,
    STAGE: 'bench',
    TABLE_NAME: 't',
    SOURCE_QUEUE_URL: DUMMY_QUEUE_URL,
    DLQ_URL: `${DUMMY_QUEUE_URL}-dlq`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_METRICS_NAMESPACE: 'ShardControl',
    POWERTOOLS_SERVICE_NAME: name,
    POWERTOOLS_TRACE_ENABLED: 'false',
  };
}

// Runs in the child: the URL comes as argv[1]; the handler must exist or the import "worked"
// only by accident. exit() so open handles (SDK agents, timers) cannot skew the process time.
const CHILD = `
const t0 = performance.now();
const mod = await import(process.argv[1]);
const t1 = performance.now();
process.stdout.write(JSON.stringify({ importMs: t1 - t0, handler: typeof mod.handler }));
process.exit(0);
`;

function timeProcess(args: string[], env: Record<string, string>) {
  const start = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 30_000 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.status !== 0) {
    const why =
      child.error?.message ?? (child.stderr || '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`node ${args[0]} exited ${child.status}: ${why}`);
  }
  return { ms, stdout: child.stdout };
}

function measureLoad(bundle: string, env: Record<string, string>): LoadStats {
  const args = ['--input-type=module', '-e', CHILD, pathToFileURL(bundle).href];
  timeProcess(args, env); // warm-up, not counted: first read of the file from disk
  const importRuns: number[] = [];
  const processRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { ms, stdout } = timeProcess(args, env);
    const out = JSON.parse(stdout) as { importMs: number; handler: string };
    if (out.handler !== 'function') throw new Error(`${bundle} exports no handler function`);
    importRuns.push(out.importMs);
    processRuns.push(ms);
  }
  return {
    importMs: round(median(importRuns)),
    importRunsMs: importRuns.map((ms) => round(ms)),
    processMs: round(median(processRuns)),
  };
}

function baselineMs(): number {
  const env = { PATH: process.env.PATH ?? '' };
  timeProcess(['-e', '0'], env);
  return round(median(Array.from({ length: RUNS }, () => timeProcess(['-e', '0'], env).ms)));
}

/** `node_modules/@scope/pkg/...` -> `@scope/pkg` (innermost node_modules); own code by folder. */
export function packageOf(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at === -1) return `(project) ${parts.length > 1 ? parts[0] : input}/`;
  const first = parts[at + 1] ?? '';
  return first.startsWith('@') ? `${first}/${parts[at + 2] ?? ''}` : first;
}

/**
 * Rebuilds one handler with the options NodejsFunction gets (`infra/bundling.ts`) and a
 * metafile, to see which inputs the bytes come from.
 */
async function analyse(name: string): Promise<FunctionResult['analysis']> {
  const entry = join(PROJECT_ROOT, 'functions', name, 'handler.ts');
  if (!existsSync(entry)) return undefined;
  const outdir = mkdtempSync(join(tmpdir(), `bench-meta-${name}-`));
  try {
    const result = await esbuild.build({
      absWorkingDir: PROJECT_ROOT,
      entryPoints: [relative(PROJECT_ROOT, entry)],
      outfile: join(outdir, 'index.mjs'),
      bundle: true,
      platform: 'node',
      format: LAMBDA_BUNDLE.format,
      target: LAMBDA_BUNDLE.target,
      mainFields: [...LAMBDA_BUNDLE.mainFields],
      minify: LAMBDA_BUNDLE.minify,
      sourcemap: LAMBDA_BUNDLE.sourcemap,
      banner: { js: LAMBDA_BUNDLE.banner },
      alias: LAMBDA_BUNDLE.alias,
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.mjs'));
    if (!output) throw new Error(`esbuild produced no .mjs for ${name}`);
    const inputs = Object.entries(output[1].inputs).map(([file, info]) => ({
      name: file,
      bytes: info.bytesInOutput,
    }));
    const byPackage = new Map<string, number>();
    for (const input of inputs) {
      const pkg = packageOf(input.name);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + input.bytes);
    }
    const importers = new Map<string, Set<string>>();
    for (const [file, info] of Object.entries(result.metafile.inputs)) {
      const from = packageOf(file);
      for (const imported of info.imports) {
        const to = packageOf(imported.path);
        if (to === from) continue;
        const set = importers.get(to) ?? new Set<string>();
        set.add(from.startsWith('(project)') ? file : from);
        importers.set(to, set);
      }
    }
    const top = (list: Contributor[]) => list.sort((a, b) => b.bytes - a.bytes).slice(0, TOP);
    return {
      outputBytes: output[1].bytes,
      topInputs: top(inputs),
      topPackages: top(
        [...byPackage].map(([pkg, bytes]) => ({
          name: pkg,
          bytes,
          importedBy: [...(importers.get(pkg) ?? [])].sort(),
        })),
      ),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const dirBytes = (dir: string) =>
  readdirSync(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);

export async function runBundles(): Promise<BundlesResult> {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-cdk-'));
  try {
    const started = performance.now();
    const { app, stack } = buildApp({ stage: 'bench', outdir });
    const assembly = app.synth();
    const synthMs = round(performance.now() - started, 0);
    const template = JSON.parse(
      readFileSync(assembly.getStackByName(stack.stackName).templateFullPath, 'utf8'),
    ) as { Resources: Record<string, TemplateResource> };

    const functions: FunctionResult[] = [];
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (typeof assetPath !== 'string') continue; // inline code (custom resources): no bundle
      const marker = resource.Metadata?.['shard-control'] as { name?: string } | undefined;
      const name = marker?.name ?? logicalId;
      const bundle = join(assembly.directory, assetPath, 'index.mjs');
      if (!existsSync(bundle)) continue;
      const vars = resource.Properties?.Environment?.Variables ?? {};
      const env = envFor(name, vars);
      const { NODE_OPTIONS: _, ...withoutNodeOptions } = env;
      const code = readFileSync(bundle);
      const base = {
        name,
        logicalId,
        bundleBytes: code.length,
        bundleKiB: round(code.length / 1024),
        gzipBytes: gzipSync(code).length,
        gzipKiB: round(gzipSync(code).length / 1024),
        assetBytes: dirBytes(join(assembly.directory, assetPath)),
        nodeOptions: env.NODE_OPTIONS,
        sizePass: code.length <= TARGETS.bundleBytes,
      };
      const empty: LoadStats = { importMs: Number.NaN, importRunsMs: [], processMs: Number.NaN };
      let load = empty;
      let loadWithoutNodeOptions = empty;
      let error: string | undefined;
      try {
        // The first processes after synthesis run on a machine still settling from it (its
        // ~10 s of CPU, freshly written files): one unmeasured load, so the function measured
        // first is not the one that pays for it.
        if (functions.length === 0) measureLoad(bundle, env);
        load = measureLoad(bundle, env);
        loadWithoutNodeOptions = measureLoad(bundle, withoutNodeOptions);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      functions.push({
        ...base,
        load,
        loadWithoutNodeOptions,
        loadPass: !error && load.importMs <= TARGETS.loadMs,
        analysis: await analyse(name),
        ...(error ? { error } : {}),
      });
    }
    return {
      node: process.version,
      targets: TARGETS,
      runs: RUNS,
      synthMs,
      baselineProcessMs: baselineMs(),
      functions,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
const kib = (bytes: number) => round(bytes / 1024);

export function formatBundles(result: BundlesResult): string {
  const rows = result.functions.map((f) => [
    f.name,
    f.bundleBytes,
    f.bundleKiB,
    f.gzipKiB,
    kib(f.assetBytes),
    verdict(f.sizePass),
    f.load.importMs,
    f.load.processMs,
    f.loadWithoutNodeOptions.importMs,
    verdict(f.loadPass),
  ]);
  const lines = [
    `node ${result.node}; synth ${result.synthMs} ms; load = median of ${result.runs} fresh processes; baseline \`node -e 0\` ${result.baselineProcessMs} ms (process)`,
    `targets: bundle <= ${result.targets.bundleBytes} bytes, import <= ${result.targets.loadMs} ms (as deployed, NODE_OPTIONS from the template)`,
    '',
    table(
      [
        'function',
        'bytes',
        'KiB',
        'gzip KiB',
        'asset KiB',
        'size',
        'import ms',
        'process ms',
        'import ms w/o NODE_OPTIONS',
        'load',
      ],
      rows,
    ),
  ];
  for (const f of result.functions) {
    if (f.error) lines.push('', `${f.name}: ERROR ${f.error}`);
    if (f.sizePass || !f.analysis) continue;
    const a = f.analysis;
    const drift =
      a.outputBytes === f.bundleBytes
        ? 'same bytes as the CDK bundle'
        : `CDK bundle ${f.bundleBytes} bytes: options drifted?`;
    lines.push(
      '',
      `${f.name} is over the size target; esbuild metafile (${a.outputBytes} bytes, ${drift}):`,
      table(
        ['package', 'KiB', '%', 'imported by'],
        a.topPackages.map((p) => [
          p.name,
          kib(p.bytes),
          round((100 * p.bytes) / a.outputBytes),
          (p.importedBy ?? []).slice(0, 3).join(', ') +
            ((p.importedBy?.length ?? 0) > 3 ? `, +${(p.importedBy?.length ?? 0) - 3}` : ''),
        ]),
      ),
      '',
      table(
        ['input', 'KiB'],
        a.topInputs.map((i) => [i.name, kib(i.bytes)]),
      ),
    );
  }
  return lines.join('\n');
}

export const bundles: Benchmark<BundlesResult> = {
  name: 'bundles',
  description: 'Lambda bundle size (raw, gzip) and cold module load per function',
  run: runBundles,
  format: formatBundles,
  passed: (result) => result.functions.every((f) => f.sizePass && f.loadPass && !f.error),
};
