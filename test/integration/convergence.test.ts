// Shard convergence on the local stack: shard.converge jobs sent directly (as `npm run send` or the
// operator would), the bundled converge-shard function, real node agents. Orphans wait out
// the grace period; one shard is never converged by two jobs at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeAgentSimulator } from '../../local/simulators/node-agent.ts';
import type { LocalStack } from '../../local/stack.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import {
  getItem,
  locationRecord,
  nodeRecords,
  queueDepth,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
} from './support.ts';

/** Long enough that two back-to-back jobs run inside it, short enough for a test. */
const ORPHAN_GRACE_SECONDS = 6;

describe('shard convergence on the local stack', () => {
  let stack: LocalStack;
  const converge = (shardId: string, reason: 'manual' | 'verify' = 'manual') =>
    stack.sendMessage(
      createEnvelope('shard.converge', { shardId, reason, requestedBy: 'integration-test' }),
    );
  const convergeAndWait = async (shardId: string) => {
    await converge(shardId);
    await stack.waitForIdle(20_000);
  };

  beforeAll(async () => {
    stack = await startTestStack({
      fleet: { shards: 2, nodesPerShard: 3 },
      env: { ...process.env, ORPHAN_GRACE_SECONDS: String(ORPHAN_GRACE_SECONDS) },
    });
    // Records the shards Citrus knows, so jobs find them.
    await stack.scheduler!.fire(stack.scheduler!.schedules[0]!);
    await stack.waitForIdle(20_000);
  }, 60_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  it('removes an orphan store only once it has been orphaned for the grace period', async () => {
    const shardId = 'shard-001';
    const node = stack.fleet!.nodesOf(shardId)[0]!;
    const orphan = 'ws-orphan-planted';
    // Behind the control plane's back, the way a node agent admin would.
    const planted = await fetch(`${node.url}/admin/stores/${orphan}`, { method: 'PUT' });
    expect(planted.status).toBe(201);

    await convergeAndWait(shardId);
    expect(node.state.stores.has(orphan)).toBe(true);
    const record = async () =>
      (await nodeRecords(stack, shardId)).find((n) => n.nodeId === node.nodeId) as
        | { status: string; orphans?: Record<string, Record<string, string>> }
        | undefined;
    const firstSeen = (await record())?.orphans?.stores?.[orphan];
    expect(firstSeen).toBeDefined();
    // A second pass inside the grace keeps it and keeps the first-seen time.
    await convergeAndWait(shardId);
    expect(node.state.stores.has(orphan)).toBe(true);
    expect((await record())?.orphans?.stores?.[orphan]).toBe(firstSeen);
    expect((await record())?.status).toBe('active');

    // Once the grace has passed, the next job removes it (jobs keep coming until then).
    await waitFor(
      'the orphan to be removed',
      async () => {
        await convergeAndWait(shardId);
        return !node.state.stores.has(orphan);
      },
      (ORPHAN_GRACE_SECONDS + 20) * 1000,
      500,
    );
    expect((await record())?.orphans?.stores ?? {}).toEqual({});
    // Other nodes of the shard never had it and were not touched by the removal.
    for (const other of stack.fleet!.nodesOf(shardId).filter((n) => n !== node)) {
      expect(other.state.stores.has(orphan)).toBe(false);
    }
  }, 60_000);

  it('never converges one shard with two jobs at once: the second waits for the lease', async () => {
    const loc = { businessId: 'biz-cv-lease', locationId: 'loc-1' };
    await stack.sendMessage(createEnvelope('shard.create', { ...loc, businessType: 'florist' }));
    await stack.waitForIdle(20_000);
    const shardId = (await locationRecord(stack, loc))!.shardId!;
    const nodes = stack.fleet!.nodesOf(shardId);
    const mark = new Map<NodeAgentSimulator, number>(nodes.map((n) => [n, n.requests.length]));
    // Every node request takes a while, so one run lasts well over a second.
    for (const n of nodes) n.setFaults({ latencyMs: 400 });
    try {
      await Promise.all([converge(shardId), converge(shardId, 'verify')]);
      await stack.waitForIdle(30_000);
    } finally {
      for (const n of nodes) n.setFaults({});
    }

    // Whether the two invocations overlapped depends on the poller's timing; when they did,
    // the second met the lease and was redelivered (the lease itself is proven deterministically
    // in test/shared/domain/convergence.test.ts). Either way the runs must not interleave.
    for (const n of nodes) {
      const seen = n.requests.slice(mark.get(n)).map((r) => `${r.method} ${r.path}`);
      // Two runs, one after the other: each is a health check, then its two listings (in
      // either order: the kinds are listed side by side), never two runs' requests mixed.
      expect(seen).toHaveLength(6);
      for (const run of [seen.slice(0, 3), seen.slice(3)]) {
        expect(run[0]).toBe('GET /v1/health');
        expect(run.slice(1).sort()).toEqual(['GET /v1/schemas', 'GET /v1/stores']);
      }
    }
    const shard = await getItem<Record<string, unknown>>(stack, `SHARD#${shardId}`);
    expect(shard).toMatchObject({ status: 'active' });
    expect(shard?.leaseOwner).toBeUndefined();
    expect(await queueDepth(stack, 'convergence-dlq')).toBe(0);
  }, 60_000);
});
