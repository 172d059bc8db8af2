import { once } from 'node:events';
import { startTsWorker } from '../../local/runtime/ts-worker.ts';
import type { Faults } from '../../local/simulators/faults.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';

/** Node agent simulators on a worker thread (see node-agents.worker.ts). */
export async function startRemoteNodes(
  specs: Array<{ nodeId: string; faults?: Faults }>,
  signingKeys: SigningKeys,
) {
  const worker = startTsWorker(new URL('./node-agents.worker.ts', import.meta.url), {
    workerData: { specs, signingKeys },
  });
  const [ready] = (await once(worker, 'message')) as [
    { urls: Array<{ nodeId: string; url: string }> },
  ];
  return {
    nodes: ready.urls,
    async stop() {
      worker.postMessage({ type: 'stop' });
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

/** The DynamoDB emulator on a worker thread (see dynamodb.worker.ts). */
export async function startRemoteDynamoDb() {
  const worker = startTsWorker(new URL('./dynamodb.worker.ts', import.meta.url));
  const [ready] = (await once(worker, 'message')) as [{ url: string }];
  return {
    url: ready.url,
    async stop() {
      worker.postMessage('stop');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}
