// Runs a simulated Citrus and its node agents on their own thread, so that a benchmark's
// function code does not share its event loop (and CPU measure) with them. Answers 'stats'
// with the requests Citrus and the nodes received so far, and any other message by stopping.
import { parentPort, workerData } from 'node:worker_threads';
import { startFleet } from '../../local/simulators/fleet.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';

const options = workerData as {
  apiKey: string;
  signingKeys: SigningKeys;
  shards: number;
  nodesPerShard: number;
  latencyMs: number;
};
const fleet = await startFleet({ ...options, nodeFaults: { latencyMs: options.latencyMs } });
parentPort?.postMessage({ citrusUrl: fleet.citrus.url });
parentPort?.on('message', async (message) => {
  if (message === 'stats') {
    parentPort?.postMessage({
      citrusRequests: fleet.citrus.requests,
      nodeRequests: fleet.nodes.reduce((n, node) => n + node.requests.length, 0),
    });
    return;
  }
  await fleet.stop();
  parentPort?.postMessage({ stopped: true });
});
