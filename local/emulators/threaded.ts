// The emulators of the local stack on worker threads. In AWS, SQS, DynamoDB and SSM are remote
// services: here they would otherwise share one event loop with the simulators and the event
// source pollers, and that loop, not the functions, would set the stack's throughput.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { builtScript } from '../runtime/ts-worker.ts';

const WORKER = fileURLToPath(new URL('./emulators.worker.ts', import.meta.url));

export type EmulatorKind = 'sqs' | 'dynamodb' | 'ssm';
export interface EmulatorSpec {
  kind: EmulatorKind;
  /** 0 or omitted: ephemeral port. */
  port?: number;
}

/** What a caller of an emulator on another thread can use: its address, and stopping it. */
export interface RemoteEmulator {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Threads whose emulators were stopped, ready to start the next set (this process only). */
const idle: Worker[] = [];

type Reply =
  | { started: Array<{ url: string; port: number }> }
  | { error: string }
  | { stopped: true };

/** The thread's next message, or its death. */
function reply(worker: Worker): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Reply) => {
      done();
      resolve(message);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`emulator thread exited with code ${code}`));
    };
    const done = () => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/**
 * Starts the given emulators together on one thread; stopping any of them stops them all. Fails
 * (with nothing left running) if any of them cannot start, e.g. a port in use. The thread is
 * kept for the next start in this process (tests start many stacks): loading the emulators'
 * packages in a new thread costs about half a second of CPU, starting servers very little.
 */
export async function startEmulatorThread(specs: EmulatorSpec[]): Promise<RemoteEmulator[]> {
  const worker = idle.pop() ?? new Worker(await builtScript(WORKER));
  worker.ref();
  const answer = reply(worker);
  worker.postMessage({ start: specs });
  const started = await answer.catch(async (error: Error) => {
    await worker.terminate();
    throw error;
  });
  if (!('started' in started)) {
    park(worker);
    throw new Error(
      `starting emulators failed: ${'error' in started ? started.error : 'no answer'}`,
    );
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const stopped = reply(worker);
      worker.postMessage('stop');
      try {
        await stopped;
        park(worker);
      } catch {
        await worker.terminate();
      }
    })();
    return stopping;
  };
  return started.started.map(({ url, port }) => ({ url, port, stop }));
}

/** Back to the idle list, not keeping the process alive. */
function park(worker: Worker) {
  worker.unref();
  idle.push(worker);
}
