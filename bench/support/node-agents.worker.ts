// Runs node agent simulators on their own thread, so that a benchmark's client (the function
// code) and the "nodes" do not share one event loop: in production they are separate machines.
import { parentPort, workerData } from 'node:worker_threads';
import type { Faults } from '../../local/simulators/faults.ts';
import { startNodeAgent } from '../../local/simulators/node-agent.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';
import { osThreadId } from './thread-cpu.ts';

interface Spec {
  nodeId: string;
  faults?: Faults;
}

const { specs, signingKeys } = workerData as { specs: Spec[]; signingKeys: SigningKeys };
const agents = await Promise.all(
  specs.map((s) => startNodeAgent({ nodeId: s.nodeId, signingKeys, faults: s.faults })),
);
parentPort?.postMessage({
  urls: agents.map((a) => ({ nodeId: a.nodeId, url: a.url })),
  tid: osThreadId(),
});
parentPort?.on('message', async (message: unknown) => {
  // 'reset': every node empty again, as a long-lived agent whose data was lost.
  if (message === 'reset') {
    for (const a of agents) {
      a.state.schemas.clear();
      a.state.stores.clear();
    }
    parentPort?.postMessage({ reset: true });
    return;
  }
  await Promise.all(agents.map((a) => a.stop()));
  parentPort?.postMessage({ stopped: true });
});
