// A real bundle (the functions' esbuild options), run in a fresh Node without
// `--enable-source-maps`, as deployed: logged stacks must name the TypeScript source and line.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_BUNDLE } from '../../../infra/bundling.ts';
import { PROJECT_ROOT } from '../../../infra/paths.ts';

const ENTRY = join(PROJECT_ROOT, 'test', 'shared', 'lambda', 'fixtures', 'failing-function.ts');
const THROW_LINE =
  readFileSync(ENTRY, 'utf8')
    .split('\n')
    .findIndex((line) => line.endsWith('// THROW')) + 1;
const SOURCE_FRAME = new RegExp(`${ENTRY.replace(/[.]/g, '\\.')}:${THROW_LINE}:\\d+`);

let outdir: string;
let bundle: string;

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'source-maps-test-'));
  bundle = join(outdir, 'index.mjs');
  await esbuild.build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [relative(PROJECT_ROOT, ENTRY)],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: LAMBDA_BUNDLE.format,
    target: LAMBDA_BUNDLE.target,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    minify: LAMBDA_BUNDLE.minify,
    sourcemap: LAMBDA_BUNDLE.sourcemap,
    banner: { js: LAMBDA_BUNDLE.banner },
    alias: LAMBDA_BUNDLE.alias,
    logLevel: 'silent',
  });
});

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** Imports the bundle in a fresh process (no NODE_OPTIONS) and runs `script` with it as `m`. */
function runBundle(script: string): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(process.argv[1]); ${script}`,
      pathToFileURL(bundle).href,
    ],
    {
      env: { PATH: process.env.PATH ?? '', POWERTOOLS_SERVICE_NAME: 'source-maps-test' },
    },
  );
}

describe('stack traces of the bundled functions', () => {
  it('point into the minified bundle unless mapped', async () => {
    const { stdout } = await runBundle('process.stdout.write(m.rawStack());');
    expect(stdout.split('\n')[1]).toContain(`${pathToFileURL(bundle).href}:`);
  });

  it('name the .ts source and line when the logger writes an error', async () => {
    // Powertools writes ERROR lines to stderr.
    const { stderr } = await runBundle('m.logFailure();');
    const log = JSON.parse(stderr.trim().split('\n').at(-1) ?? '') as {
      level: string;
      message: string;
      error: { message: string; location: string; stack: string; cause: { stack: string } };
    };
    expect(log).toMatchObject({ level: 'ERROR', message: 'disk read failed' });
    expect(log.error.message).toBe('disk on fire');
    const top = log.error.stack.split('\n')[1];
    expect(top).toMatch(SOURCE_FRAME);
    expect(log.error.location).toBe(`${ENTRY}:${THROW_LINE}`);
    expect(log.error.cause.stack.split('\n')[1]).toMatch(SOURCE_FRAME);
    expect(log.error.stack).not.toContain('index.mjs');
  });

  it('name the .ts source and line when a handler fails (the stack the runtime reports)', async () => {
    const { stdout } = await runBundle(
      'try { await m.handler({}, {}); } catch (e) { process.stdout.write(e.stack); }',
    );
    expect(stdout.split('\n')[0]).toBe('Error: disk on fire');
    expect(stdout.split('\n')[1]).toMatch(SOURCE_FRAME);
    expect(stdout).not.toContain('index.mjs');
  });
});
