// Bundles the shardctl CLI into dist/shardctl.mjs (the package's `bin`) and its lazily loaded
// parts into dist/shardctl-chunks/, so it runs with plain node: no tsx, no TypeScript. Run by
// `npm install` in a checkout (the `prepare` script).
//
// Code splitting keeps start-up cheap: the entry holds commander and the command definitions;
// an action's `await import(...)` of the operations (and with them the AWS SDK) is a chunk of
// its own, loaded only when the action runs. Chunks are named by content hash; files of an
// earlier build that this one no longer writes are removed from the chunk directory.
//
// `node cli/build.mjs [--outdir <dir>] [--metafile <file>]`: another output directory (tests),
// and esbuild's metafile (which output holds which source).
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** Where the chunks go, below the output directory. */
const CHUNK_DIR = 'shardctl-chunks';

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // An install without dev dependencies must not fail for the CLI's sake.
  console.warn(
    'shardctl: not bundled (esbuild is a dev dependency); `npm run shardctl` still works',
  );
  process.exit(0);
}

const { values } = parseArgs({
  options: { outdir: { type: 'string' }, metafile: { type: 'string' } },
});
const outdir = resolve(values.outdir ?? new URL('../dist', import.meta.url).pathname);
const chunkDir = join(outdir, CHUNK_DIR);

const result = await build({
  entryPoints: { shardctl: new URL('./shardctl.ts', import.meta.url).pathname },
  outdir,
  entryNames: '[name]',
  chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  // The SDK's CommonJS modules require Node built-ins: give each ES module (the entry and every
  // chunk: esbuild adds the banner to each) a `require`.
  banner: {
    js: "import { createRequire as __shardctlRequire } from 'node:module'; const require = __shardctlRequire(import.meta.url);",
  },
});

// Chunks of an earlier build (other hashes) would pile up: keep only what this build wrote.
const written = new Set(Object.keys(result.metafile.outputs).map((file) => resolve(file)));
mkdirSync(chunkDir, { recursive: true });
for (const name of readdirSync(chunkDir)) {
  const file = join(chunkDir, name);
  if (!written.has(file)) rmSync(file, { recursive: true, force: true });
}
chmodSync(join(outdir, 'shardctl.mjs'), 0o755);
if (values.metafile) writeFileSync(values.metafile, JSON.stringify(result.metafile));
