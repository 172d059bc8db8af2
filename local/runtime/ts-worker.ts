import { once } from 'node:events';
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

export interface ServiceThread<Ready> {
  /** The worker's first message. */
  ready: Ready;
  worker: Worker;
  stop(): Promise<void>;
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
  const worker = startTsWorker(script, { workerData });
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
