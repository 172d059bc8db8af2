import { once } from 'node:events';
import { startServiceThread } from '../../local/runtime/ts-worker.ts';
import type { Faults } from '../../local/simulators/faults.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';

/** Starts a `*.worker.ts` of this folder (protocol: startServiceThread). */
async function startWorker<Ready>(file: string, workerData?: unknown) {
  return startServiceThread<Ready>(new URL(file, import.meta.url), workerData);
}

/**
 * Node agent simulators on a worker thread (see node-agents.worker.ts); `tid` is the thread's
 * OS id, for processThreadsCpuMs.
 */
export async function startRemoteNodes(
  specs: Array<{ nodeId: string; faults?: Faults }>,
  signingKeys: SigningKeys,
) {
  const { ready, stop, worker } = await startWorker<{
    urls: Array<{ nodeId: string; url: string }>;
    tid?: number;
  }>('./node-agents.worker.ts', { specs, signingKeys });
  /** Empties every node: the same long-lived agents serve the next run. */
  const reset = async () => {
    const done = once(worker, 'message');
    worker.postMessage('reset');
    await done;
  };
  return { nodes: ready.urls, tid: ready.tid, stop, reset };
}

/** Bare HTTP servers standing in for nodes, on a worker thread (see bare-nodes.worker.ts). */
export async function startBareNodes(nodes: Array<{ down: boolean }>, latencyMs: number) {
  const { ready, stop } = await startWorker<{ urls: string[]; tid?: number }>(
    './bare-nodes.worker.ts',
    { nodes, latencyMs },
  );
  return { urls: ready.urls, tid: ready.tid, stop };
}

/**
 * The DynamoDB emulator on a worker thread, as the local stack runs it (see dynamodb.worker.ts),
 * with the thread's OS id.
 */
export async function startRemoteDynamoDb() {
  const { ready, stop } = await startWorker<{ url: string; tid?: number }>('./dynamodb.worker.ts');
  return { url: ready.url, tid: ready.tid, stop };
}
