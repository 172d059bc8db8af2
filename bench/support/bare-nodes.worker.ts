// The least a node can be: node:http answering every request with `{}` after a fixed latency,
// or destroying the socket when down. No signatures, validation or state. Used to measure
// what 45 nodes' worth of HTTP alone costs on this machine (the floor under the fleet case).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { osThreadId } from './thread-cpu.ts';

const { nodes, latencyMs } = workerData as {
  nodes: Array<{ down: boolean }>;
  latencyMs: number;
};
const servers: Server[] = await Promise.all(
  nodes.map(
    ({ down }) =>
      new Promise<Server>((resolve) => {
        const server = createServer((req, res) => {
          if (down) return req.socket.destroy();
          req.resume();
          req.on('end', () =>
            setTimeout(() => {
              res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
              res.end('{}');
            }, latencyMs),
          );
        });
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
  ),
);
parentPort?.postMessage({
  urls: servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`),
  tid: osThreadId(),
});
parentPort?.on('message', () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  parentPort?.postMessage({ stopped: true });
});
