import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId, Worker, type WorkerOptions } from 'node:worker_threads';

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

export interface ServiceThread<Ready> {
  /** The worker's first message. */
  ready: Ready;
  worker: Worker;
  stop(): Promise<void>;
}

const BUILT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.local', 'threads');
const built = new Map<string, Promise<URL>>();

/**
 * The script and the project's TypeScript it imports as one JavaScript module (packages stay
 * imports, resolved from the repository's node_modules), built once per process: a thread
 * then starts without a TypeScript loader, whose set-up (a loader thread, every module
 * transformed again in the new isolate) cost each service thread about half a second of CPU.
 * Written under .local/ (content-addressed, so concurrent processes agree) for the relative
 * resolution of packages and for stack traces that name the sources (inline source map).
 */
export function builtScript(script: string): Promise<URL> {
  let url = built.get(script);
  if (!url) {
    url = (async () => {
      const { build } = await import('esbuild');
      const out = await build({
        entryPoints: [script],
        bundle: true,
        packages: 'external',
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcemap: 'inline',
        write: false,
        logLevel: 'silent',
      });
      const code = out.outputFiles[0]!.contents;
      const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
      const file = join(BUILT_DIR, `${basename(script).replace(/\.[cm]?ts$/, '')}.${hash}.mjs`);
      if (!existsSync(file)) {
        mkdirSync(BUILT_DIR, { recursive: true });
        // Whole or not at all: another process may be writing the same file.
        const partial = `${file}.${process.pid}.${threadId}.tmp`;
        writeFileSync(partial, code);
        renameSync(partial, file);
      }
      return pathToFileURL(file);
    })();
    built.set(script, url);
    url.catch(() => built.delete(script));
  }
  return url;
}

/**
 * Starts a service (server, emulator) on its own thread, so that its request handling does not
 * compete with the caller's event loop. The script posts one message when ready and one when
 * it has stopped after being asked to (any message).
 */
export async function startServiceThread<Ready>(
  script: URL | string,
  workerData?: unknown,
): Promise<ServiceThread<Ready>> {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  const worker = new Worker(await builtScript(path), { workerData });
  const exited = once(worker, 'exit').then(([code]) => {
    throw new Error(`${String(script)} exited with code ${code} before it was ready`);
  });
  // Rejects on the worker's 'error' event too (e.g. a port already in use).
  const [ready] = (await Promise.race([once(worker, 'message'), exited])) as [Ready];
  exited.catch(() => undefined);
  let stopping: Promise<void> | undefined;
  return {
    ready,
    worker,
    stop() {
      stopping ??= (async () => {
        const stopped = once(worker, 'message').catch(() => undefined);
        worker.postMessage('stop');
        await Promise.race([stopped, once(worker, 'exit')]);
        await worker.terminate();
      })();
      return stopping;
    },
  };
}
