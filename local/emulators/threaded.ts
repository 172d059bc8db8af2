// The emulators of the local stack on worker threads. In AWS, SQS, DynamoDB and SSM are remote
// services: here they would otherwise share one event loop with the simulators and the event
// source pollers, and that loop, not the functions, would set the stack's throughput.
import { startServiceThread } from '../runtime/ts-worker.ts';

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

/**
 * Starts the given emulators together on one new thread; stopping any of them stops the thread.
 * Fails (with nothing left running) if any of them cannot start, e.g. a port in use.
 */
export async function startEmulatorThread(specs: EmulatorSpec[]): Promise<RemoteEmulator[]> {
  const thread = await startServiceThread<Array<{ url: string; port: number }>>(
    new URL('./emulators.worker.ts', import.meta.url),
    specs,
  );
  return thread.ready.map(({ url, port }) => ({ url, port, stop: thread.stop }));
}
