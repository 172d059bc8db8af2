// shardctl's start-up stays cheap: help, version, option parsing and usage errors load
// commander and the command definitions only. The AWS SDK and the data layer are chunks that
// an action imports when it runs (cli/build.mjs splits the bundle).
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../local/runtime/lambda-pool.ts';

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<
    string,
    {
      entryPoint?: string;
      inputs: Record<string, unknown>;
      imports: Array<{ path: string; kind: string; external?: boolean }>;
    }
  >;
}

/** What only an action may load: the SDK, the operations modules and the data layer. */
const HEAVY =
  /node_modules\/@(aws-sdk|smithy|aws-crypto)\/|cli\/shardctl\/(dlq|operations|status|source|target)\.ts$|shared\/store\//;

let outdir: string;
let meta: Metafile;
/** Output files (absolute) that load when the entry loads, before any action runs. */
let eager: Set<string>;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'shardctl-startup-'));
  // A chunk of an "earlier build": the build must not leave it behind.
  mkdirSync(join(outdir, 'shardctl-chunks'));
  writeFileSync(join(outdir, 'shardctl-chunks', 'chunk-STALE000.mjs'), 'export {};\n');
  const metafile = join(outdir, 'meta.json');
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'cli', 'build.mjs'), '--outdir', outdir, '--metafile', metafile],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  meta = JSON.parse(readFileSync(metafile, 'utf8'));
  rmSync(metafile);
  // The entry and what it imports statically, transitively; `import()` edges are lazy.
  const entry = Object.keys(meta.outputs).find(
    (file) => meta.outputs[file]!.entryPoint === 'cli/shardctl.ts',
  );
  expect(entry).toBeDefined();
  eager = new Set();
  const visit = (file: string) => {
    if (eager.has(file)) return;
    eager.add(file);
    for (const edge of meta.outputs[file]!.imports)
      if (edge.kind === 'import-statement' && !edge.external) visit(edge.path);
  };
  visit(entry!);
}, 60_000);
afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const run = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [join(outdir, 'shardctl.mjs'), ...args],
      { env: { ...process.env, STAGE: '', SQS_PORT: '1' }, timeout: 30_000 },
      (error, stdout, stderr) =>
        done({
          code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
          stdout,
          stderr,
        }),
    );
  });

describe('shardctl start-up', () => {
  it('keeps the SDK, the operations and the data layer out of what the entry loads', () => {
    const inputsOf = (files: Iterable<string>) =>
      [...files].flatMap((file) => Object.keys(meta.outputs[file]!.inputs));
    expect(inputsOf(eager).filter((input) => HEAVY.test(input))).toEqual([]);
    // The pattern does match the lazy side (else the check above proves nothing).
    const lazy = Object.keys(meta.outputs).filter((file) => !eager.has(file));
    expect(
      inputsOf(lazy).filter((input) => /node_modules\/@aws-sdk\/client-sqs\//.test(input)),
    ).not.toEqual([]);
    expect(inputsOf(lazy)).toEqual(expect.arrayContaining(['cli/shardctl/target.ts']));
  });

  it('leaves no chunk of an earlier build behind', () => {
    const written = new Set(Object.keys(meta.outputs).map((file) => resolve(REPO_ROOT, file)));
    const chunks = readdirSync(join(outdir, 'shardctl-chunks')).map((name) =>
      join(outdir, 'shardctl-chunks', name),
    );
    expect(chunks.filter((file) => !written.has(file))).toEqual([]);
  });

  it('answers help, version and usage errors without the lazy chunks', async () => {
    // Without the chunks an action loads, anything on these paths that tried would fail.
    for (const file of Object.keys(meta.outputs))
      if (!eager.has(file)) rmSync(resolve(REPO_ROOT, file));
    const cases: Array<[string[], number, RegExp]> = [
      [['--help'], 0, /^Usage: shardctl/],
      [['--version'], 0, /^\d+\.\d+\.\d+\n$/],
      [['dlq', '--help'], 0, /^Usage: shardctl dlq/],
      [['dlq', 'replay', '--help'], 0, /--max-replays <n>/],
      [['dlq', 'peek'], 2, /^$/],
      [['status', '--limit', '0'], 2, /^$/],
      // Usage errors an action finds, before it loads anything: no stage, no --confirm.
      [['status'], 2, /^$/],
      [['dlq', 'purge', 'convergence-dlq', '--local'], 2, /^$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, code, stdout], i) => {
      const result = runs[i]!;
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({
        args,
        code,
        stderr: code === 2 ? expect.stringMatching(/^error: .*\n[\s\S]*Usage: shardctl/) : '',
      });
      expect(result.stdout).toMatch(stdout);
    });
    // An action does need them: proof that the chunks are really gone.
    const action = await run(['dlq', 'list', '--local']);
    expect(action.code).toBe(1);
    expect(action.stderr).toMatch(/Cannot find module .*shardctl-chunks/);
  });
});
