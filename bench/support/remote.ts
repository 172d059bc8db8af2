import { once } from 'node:events';
import { startTsWorker } from '../../local/runtime/ts-worker.ts';
import type { Faults } from '../../local/simulators/faults.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';

/**
 * Starts a `*.worker.ts` of this folder. Each posts one message when ready and one when it
 * has stopped after being asked to (any message).
 */
async function startWorker<Ready>(file: string, workerData?: unknown) {
  const worker = startTsWorker(new URL(file, import.meta.url), { workerData });
  const [ready] = (await once(worker, 'message')) as [Ready];
  return {
    ready,
    async stop() {
      worker.postMessage('stop');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

/** Node agent simulators on a worker thread (see node-agents.worker.ts). */
export async function startRemoteNodes(
  specs: Array<{ nodeId: string; faults?: Faults }>,
  signingKeys: SigningKeys,
) {
  const { ready, stop } = await startWorker<{ urls: Array<{ nodeId: string; url: string }> }>(
    './node-agents.worker.ts',
    { specs, signingKeys },
  );
  return { nodes: ready.urls, stop };
}

/** Bare HTTP servers standing in for nodes, on a worker thread (see bare-nodes.worker.ts). */
export async function startBareNodes(nodes: Array<{ down: boolean }>, latencyMs: number) {
  const { ready, stop } = await startWorker<{ urls: string[] }>('./bare-nodes.worker.ts', {
    nodes,
    latencyMs,
  });
  return { urls: ready.urls, stop };
}

/** The DynamoDB emulator on a worker thread (see dynamodb.worker.ts). */
export async function startRemoteDynamoDb() {
  const { ready, stop } = await startWorker<{ url: string }>('./dynamodb.worker.ts');
  return { url: ready.url, stop };
}
