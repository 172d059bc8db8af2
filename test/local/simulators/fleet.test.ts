import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startFleet } from '../../../local/simulators/fleet.ts';
import { signRequest } from '../../../shared/contracts/signing.ts';

const signingKeys = { current: { id: 'k1', secret: 's1' } };
const auth = { authorization: 'Bearer fleet-key' };

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePortRun(length: number): Promise<number> {
  // Looks for `length` consecutive free ports in a high range, so the test owns fixed ports.
  for (let base = 42000 + Math.floor(Math.random() * 8000); ; base += length + 1) {
    const checks = await Promise.all(Array.from({ length }, (_, i) => canBind(base + i)));
    if (checks.every(Boolean)) return base;
  }
}

type HealthPage = {
  shards: Array<{
    shardId: string;
    role: string;
    status: string;
    nodes: Array<{ nodeId: string; endpoint: string; healthy: boolean }>;
  }>;
};

describe('fleet', () => {
  it('starts 4 shards x 3 nodes wired into Citrus, and stop() frees every port', async () => {
    const base = await freePortRun(13);
    const fleet = await startFleet({
      apiKey: 'fleet-key',
      signingKeys,
      citrusPort: base + 12,
      firstNodePort: base,
    });
    const ports = [base + 12, ...fleet.nodes.map((n) => n.port)];
    try {
      expect(fleet.nodes.map((n) => n.nodeId)).toEqual(
        [1, 2, 3, 4].flatMap((s) => [1, 2, 3].map((n) => `shard-00${s}-node-${n}`)),
      );
      expect(fleet.nodes.map((n) => n.port)).toEqual(
        Array.from({ length: 12 }, (_, i) => base + i),
      );
      expect(fleet.citrus.port).toBe(base + 12);
      expect(fleet.nodesOf('shard-002').map((n) => n.nodeId)).toEqual([
        'shard-002-node-1',
        'shard-002-node-2',
        'shard-002-node-3',
      ]);
      expect(fleet.node('shard-004-node-3').port).toBe(base + 11);
      expect(() => fleet.node('shard-009-node-1')).toThrow();

      const page = (await (
        await fetch(`${fleet.citrus.url}/api/shards/health`, { headers: auth })
      ).json()) as HealthPage;
      expect(page.shards.map((s) => [s.shardId, s.role, s.status, s.nodes.length])).toEqual([
        ['shard-001', 'database', 'healthy', 3],
        ['shard-002', 'database', 'healthy', 3],
        ['shard-003', 'database', 'healthy', 3],
        ['shard-004', 'database', 'healthy', 3],
      ]);
      // Every endpoint Citrus hands out is a live, signed node agent.
      for (const shard of page.shards) {
        for (const n of shard.nodes) {
          const res = await fetch(`${n.endpoint}/v1/health`, {
            headers: signRequest(signingKeys.current, 'GET', '/v1/health', ''),
          });
          expect(await res.json()).toMatchObject({ nodeId: n.nodeId, status: 'ok' });
        }
      }

      // A node going down shows up in Citrus health.
      fleet.node('shard-001-node-2').setFaults({ down: true });
      const after = (await (
        await fetch(`${fleet.citrus.url}/api/shards/health`, { headers: auth })
      ).json()) as HealthPage;
      const s1 = after.shards[0]!;
      expect(s1.status).toBe('degraded');
      expect(s1.nodes.find((n) => n.nodeId === 'shard-001-node-2')?.healthy).toBe(false);

      // A node joining at run time.
      const joined = await fleet.addNode('shard-003');
      expect(joined.nodeId).toBe('shard-003-node-4');
      expect(fleet.nodesOf('shard-003')).toHaveLength(4);
      ports.push(joined.port);
    } finally {
      // Open a keep-alive connection first: stop() must still free the port at once.
      await fetch(`${fleet.citrus.url}/admin/state`);
      await fleet.stop();
    }
    const free = await Promise.all(ports.map(canBind));
    expect(free.every(Boolean)).toBe(true);
  });

  it('uses ephemeral ports by default and applies fleet-wide faults', async () => {
    const fleet = await startFleet({
      apiKey: 'fleet-key',
      signingKeys,
      shards: 2,
      nodesPerShard: 1,
      citrusFaults: { errorRate: 1 },
      nodeFaults: { errorRate: 1 },
    });
    try {
      expect(fleet.nodes).toHaveLength(2);
      expect(new Set(fleet.nodes.map((n) => n.port)).size).toBe(2);
      expect((await fetch(`${fleet.citrus.url}/api/shards/health`, { headers: auth })).status).toBe(
        503,
      );
      const node = fleet.nodes[0]!;
      const res = await fetch(`${node.url}/v1/health`, {
        headers: signRequest(signingKeys.current, 'GET', '/v1/health', ''),
      });
      expect(res.status).toBe(503);
    } finally {
      await fleet.stop();
    }
  });

  it('fails cleanly when a port is taken', async () => {
    const base = await freePortRun(2);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', () => r()));
    try {
      await expect(
        startFleet({ apiKey: 'k', signingKeys, shards: 1, nodesPerShard: 2, firstNodePort: base }),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(await canBind(base)).toBe(true);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
