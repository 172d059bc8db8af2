import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// Workers are plain Node threads (no vitest/tsx transform inherited), and on Node 20 an
// `--import` loader in execArgv does not apply to the worker's own entry: a small bootstrap
// registers tsx first, so TypeScript worker scripts (and what they import) load.
const TSX_API = pathToFileURL(
  join(
    dirname(createRequire(import.meta.url).resolve('tsx/package.json')),
    'dist/esm/api/index.mjs',
  ),
).href;

/** A worker thread running a TypeScript module. */
export function startTsWorker(
  script: URL | string,
  options: Omit<WorkerOptions, 'eval'> = {},
): Worker {
  const url = typeof script === 'string' ? pathToFileURL(script).href : script.href;
  const bootstrap = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
