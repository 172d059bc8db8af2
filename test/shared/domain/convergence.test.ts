import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/index.ts';
import { type Fleet, startFleet } from '../../../local/simulators/fleet.ts';
import { NodeAgentClient } from '../../../shared/adapters/node-agent-client.ts';
import type { SigningKeys } from '../../../shared/contracts/signing.ts';
import {
  type ConvergenceSettings,
  convergeShard,
  ShardLeasedError,
} from '../../../shared/domain/convergence.ts';
import type { NodeStore, Stores } from '../../../shared/domain/ports.ts';
import type { NodeConverger } from '../../../shared/domain/roles/index.ts';
import { roleStrategies } from '../../../shared/domain/roles/registry.ts';
import { Secret } from '../../../shared/domain/secret.ts';
import { createStores, type TableStores } from '../../../shared/store/index.ts';
import { keys } from '../../../shared/store/schema.ts';
import { createStateTable, localDynamoDb, writeCopiesOf } from '../../support/table.ts';

const signingKeys: SigningKeys = { current: { id: 'k1', secret: 'convergence-test-secret' } };
let dynamo: DynamoDbEmulator;
let fleet: Fleet;
let tables = 0;
let now = new Date();
const agent = new NodeAgentClient({
  signingKeys: new Secret(signingKeys),
  timeoutMs: 1000,
  healthTimeoutMs: 300,
});
const strategyFor = roleStrategies(agent);
const settings: ConvergenceSettings = {
  orphanGraceMs: 60_000,
  leaseMs: 30_000,
  nodeParallelism: 8,
  clock: () => now,
};

beforeAll(async () => {
  dynamo = await startDynamoDbEmulator({ port: 0 });
  fleet = await startFleet({ apiKey: 'k', signingKeys, shards: 1, nodesPerShard: 3 });
});
afterAll(async () => {
  await fleet.stop();
  await dynamo.stop();
});

/** A fresh table holding shard-001 with the fleet's nodes, two schemas and some stores. */
async function shard(stores: string[], options: { role?: string } = {}) {
  now = new Date();
  for (const node of fleet.nodes) {
    node.setFaults({});
    node.state.schemas.clear();
    node.state.stores.clear();
  }
  const client = localDynamoDb(dynamo.url);
  const tableName = `conv-${++tables}`;
  await createStateTable(client, tableName);
  const store = createStores({ tableName, client, clock: () => now });
  await store.shards.recordTopology({
    shardId: 'shard-001',
    role: options.role ?? 'database',
    nodes: fleet.nodes.map((n) => ({ nodeId: n.nodeId, endpoint: n.url })),
  });
  for (const b of ['biz-1', 'biz-2'])
    await store.resources.putSchema('shard-001', {
      businessId: b,
      locationId: 'loc-1',
      businessType: 'retail',
    });
  // The first store through the store's own write, the others as copies of its record.
  const [first, ...others] = stores;
  if (first !== undefined) {
    await store.resources.putStore('shard-001', first, 'active', '2026-11-22T10:00:00.000Z#0');
    await writeCopiesOf(
      client,
      tableName,
      keys.store('shard-001', first),
      others.map((workspaceId) => ({ ...keys.store('shard-001', workspaceId), workspaceId })),
    );
  }
  const run = (owner = 'job-1') =>
    convergeShard('shard-001', owner, { stores: store, strategyFor }, settings);
  return { store, run };
}

/** The real stores, with some of the node store's methods replaced. */
const withNodes = (stores: TableStores, overrides: Partial<NodeStore>): Stores => ({
  ...stores,
  nodes: Object.assign(Object.create(stores.nodes), overrides),
});

const requestsTo = (nodeId: string) => fleet.node(nodeId).requests.length;
/** Thousands of stores written, listed and applied: slow on a busy machine, not stuck. */
const LARGE_SHARD_TIMEOUT_MS = 120_000;

describe('convergeShard (real stores, real node agents over HTTP)', () => {
  it(
    'brings every node to the desired state, then is a no-op',
    async () => {
      // Just over 1,000: two store batches (the batching is what matters, not the bulk).
      const stores = Array.from({ length: 1001 }, (_, i) => `ws-${i}`);
      const { run, store } = await shard(stores);
      await store.resources.putStore(
        'shard-001',
        'ws-deleted',
        'deleted',
        '2026-11-22T10:00:01.000Z#1',
      );
      const before = fleet.nodes.map((n) => n.requests.length);
      await expect(run()).resolves.toMatchObject({ outcome: 'active', failures: [] });
      for (const [i, node] of fleet.nodes.entries()) {
        expect(node.state.stores.size).toBe(1001);
        expect(node.state.schemas.size).toBe(2);
        // health + 2 listings + 1 schema batch + 2 store batches (1,000 and 1).
        expect(node.requests.length - (before[i] ?? 0)).toBe(6);
      }
      expect(await store.shards.get('shard-001')).toMatchObject({ status: 'active' });
      expect((await store.nodes.list('shard-001')).map((n) => n.status)).toEqual([
        'active',
        'active',
        'active',
      ]);

      const quiet = fleet.nodes.map((n) => n.requests.length);
      await expect(run('job-2')).resolves.toMatchObject({ outcome: 'active' });
      // Nothing drifted: a health check and two listings per node, no apply.
      expect(fleet.nodes.map((n, i) => n.requests.length - (quiet[i] ?? 0))).toEqual([3, 3, 3]);
    },
    LARGE_SHARD_TIMEOUT_MS,
  );

  it(
    'gives a node that joined everything in 1 + ceil(resources / 1000) requests, then lists as usual',
    async () => {
      const stores = Array.from({ length: 2001 }, (_, i) => `ws-${i}`);
      const { run, store } = await shard(stores);
      const joined = await fleet.addNode('shard-001');
      try {
        joined.state.stores.clear();
        await store.shards.recordTopology({
          shardId: 'shard-001',
          role: 'database',
          nodes: [{ nodeId: joined.nodeId, endpoint: joined.url }],
        });
        expect(
          (await store.nodes.list('shard-001')).find((n) => n.nodeId === joined.nodeId)?.status,
        ).toBe('joining');
        await expect(run()).resolves.toMatchObject({ outcome: 'active' });
        expect(joined.state.stores.size).toBe(2001);
        expect(joined.state.schemas.size).toBe(2);
        // health + 1 schema batch + 3 store batches: within ceil(2003 / 1000) + 3.
        expect(joined.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
          'GET /v1/health',
          'POST /v1/schemas:apply',
          'POST /v1/stores:apply',
          'POST /v1/stores:apply',
          'POST /v1/stores:apply',
        ]);
        expect(
          (await store.nodes.list('shard-001')).find((n) => n.nodeId === joined.nodeId)?.status,
        ).toBe('active');
        const before = joined.requests.length;
        await run('job-2');
        expect(
          joined.requests
            .slice(before)
            .map((r) => `${r.method} ${r.path}`)
            .sort(),
        ).toEqual(['GET /v1/health', 'GET /v1/schemas', 'GET /v1/stores']);
      } finally {
        await joined.stop();
        fleet.citrus.removeNode('shard-001', joined.nodeId);
        fleet.nodes.splice(fleet.nodes.indexOf(joined), 1);
      }
    },
    LARGE_SHARD_TIMEOUT_MS,
  );

  it('marks an unreachable node pending_sync, fails the shard with a summary, and recovers', async () => {
    const { run, store } = await shard(['ws-1']);
    const offline = fleet.nodes[1]!;
    offline.setFaults({ down: true });
    const result = await run();
    expect(result).toMatchObject({
      outcome: 'failed',
      failures: [{ nodeId: offline.nodeId, error: expect.stringMatching(/^unreachable: /) }],
    });
    const failed = await store.shards.get('shard-001');
    expect(failed).toMatchObject({ status: 'failed', workPk: 'shard#failed' });
    expect(failed?.lastError).toContain(offline.nodeId);
    const node = (await store.nodes.list('shard-001')).find((n) => n.nodeId === offline.nodeId);
    expect(node).toMatchObject({
      status: 'pending_sync',
      consecutiveFailures: 1,
      workPk: 'node#pending_sync',
    });
    expect(fleet.nodes[0]?.state.stores.has('ws-1')).toBe(true);

    offline.setFaults({});
    await expect(run('job-2')).resolves.toMatchObject({ outcome: 'active' });
    expect(offline.state.stores.has('ws-1')).toBe(true);
    const recovered = (await store.nodes.list('shard-001')).find(
      (n) => n.nodeId === offline.nodeId,
    );
    expect(recovered).toMatchObject({ status: 'active', consecutiveFailures: 0 });
    expect(recovered).not.toHaveProperty('workPk');
    expect(await store.shards.get('shard-001')).not.toHaveProperty('workPk');
  });

  it('converges a node in error the moment it answers again, and skips one still down without a write', async () => {
    const { store } = await shard(['ws-1']);
    const away = fleet.nodes[1]!;
    away.setFaults({ down: true });
    const policy = {
      errorAfterFailures: 2,
      errorBackoffBaseMs: 3_600_000,
      errorBackoffMaxMs: 7_200_000,
    };
    const withPolicy = (owner: string) =>
      convergeShard(
        'shard-001',
        owner,
        { stores: store, strategyFor },
        { ...settings, nodePolicy: policy },
      );
    await withPolicy('job-1');
    await withPolicy('job-2');
    const errored = (await store.nodes.list('shard-001')).find((n) => n.nodeId === away.nodeId)!;
    expect(errored).toMatchObject({ status: 'error', workPk: 'node#error' });

    // Still down, backoff an hour away: probed, skipped, not written; the shard is not active.
    const skipped = await withPolicy('job-3');
    expect(skipped).toMatchObject({ outcome: 'failed', skipped: [away.nodeId] });
    expect(skipped.outcome !== 'unknown_shard' && skipped.attempted).not.toContain(away.nodeId);
    expect(
      (await store.nodes.list('shard-001')).find((n) => n.nodeId === away.nodeId),
    ).toMatchObject({ version: errored.version });
    expect((await store.shards.get('shard-001'))?.lastError).toContain(`${away.nodeId}: skipped`);

    // Back: converged at once, however long its backoff still runs.
    await store.resources.putStore('shard-001', 'ws-2', 'active', '2026-11-22T10:00:09.000Z#0');
    away.setFaults({});
    await expect(withPolicy('job-4')).resolves.toMatchObject({ outcome: 'active', skipped: [] });
    expect(away.state.stores.has('ws-2')).toBe(true);
    expect(
      (await store.nodes.list('shard-001')).find((n) => n.nodeId === away.nodeId),
    ).toMatchObject({ status: 'active', consecutiveFailures: 0 });
  });

  it('writes no node record when a converged shard is converged again with nothing changed', async () => {
    const { run, store } = await shard(['ws-1']);
    await run('job-1');
    const versions = (await store.nodes.list('shard-001')).map((n) => n.version);
    await expect(run('job-2')).resolves.toMatchObject({ outcome: 'active', superseded: [] });
    expect((await store.nodes.list('shard-001')).map((n) => n.version)).toEqual(versions);
    // An hour later the sync time is refreshed once.
    now = new Date(now.getTime() + 3_600_000);
    await run('job-3');
    const refreshed = await store.nodes.list('shard-001');
    expect(refreshed.map((n) => n.version)).toEqual(versions.map((v) => v + 1));
    expect(refreshed[0]?.lastSyncAt).toBe(now.toISOString());
  });

  it('arranges its own follow-up for an orphan: due when the grace ends, cleared once removed', async () => {
    const { run, store } = await shard(['ws-1']);
    await run('job-1');
    const node = fleet.nodes[0]!;
    node.state.stores.add('orphan-9');
    const seenAt = now;
    await run('job-2');
    const due = new Date(seenAt.getTime() + settings.orphanGraceMs);
    expect(
      (await store.nodes.list('shard-001')).find((n) => n.nodeId === node.nodeId),
    ).toMatchObject({ workPk: 'node#follow_up', followUpAt: due.toISOString() });
    await expect(store.nodes.listNeedingWork('follow_up', seenAt)).resolves.toEqual([]);
    await expect(store.nodes.listNeedingWork('follow_up', due)).resolves.toMatchObject([
      { shardId: 'shard-001', nodeId: node.nodeId },
    ]);
    now = due;
    await run('job-3');
    expect(node.state.stores.has('orphan-9')).toBe(false);
    const cleared = (await store.nodes.list('shard-001')).find((n) => n.nodeId === node.nodeId);
    expect(cleared).not.toHaveProperty('workPk');
    expect(cleared).not.toHaveProperty('followUpAt');
  });

  it('lets a black-holed node (connection accepted, never answered) cost its shard only the health timeout', async () => {
    const { run, store } = await shard(['ws-1']);
    const hole = fleet.nodes[2]!;
    hole.setFaults({ timeoutRate: 1 });
    const result = await run('job-1');
    expect(result).toMatchObject({
      outcome: 'failed',
      failures: [{ nodeId: hole.nodeId, error: expect.stringMatching(/^unreachable: .*300 ms/) }],
    });
    // The other nodes were converged meanwhile.
    expect(fleet.nodes.filter((n) => n !== hole).every((n) => n.state.stores.has('ws-1'))).toBe(
      true,
    );
    expect((await store.shards.get('shard-001'))?.status).toBe('failed');
  });

  it('removes a deleted store from a node that was offline when the delete happened', async () => {
    const { run, store } = await shard(['ws-1', 'ws-2']);
    await run();
    const offline = fleet.nodes[2]!;
    offline.setFaults({ down: true });
    // The workspace handler would delete on the reachable nodes and mark this one pending_sync.
    await store.resources.putStore('shard-001', 'ws-2', 'deleted', '2026-11-22T10:00:05.000Z#1');
    offline.setFaults({});
    await run('job-2');
    expect(offline.state.stores.has('ws-2')).toBe(false);
    expect(offline.state.stores.has('ws-1')).toBe(true);
  });

  it('leaves a node as a push that failed meanwhile left it, not as it was when the job started', async () => {
    const { run, store } = await shard(['ws-1']);
    const flaky = fleet.nodes[1]!;
    // Right after the job has read the nodes, a new store is recorded and its push to this
    // node fails (the workspace handler marks the node pending_sync).
    const racing = withNodes(store, {
      list: async (shardId) => {
        const nodes = await store.nodes.list(shardId);
        await store.resources.putStore(shardId, 'ws-new', 'active', '2026-11-22T10:00:09.000Z#0');
        await store.nodes.markPendingSync(shardId, flaky.nodeId, 'push of ws-new failed');
        return nodes;
      },
    });
    const result = await convergeShard(
      'shard-001',
      'job-1',
      { stores: racing, strategyFor },
      settings,
    );
    expect(result).toMatchObject({ outcome: 'active', superseded: [flaky.nodeId] });
    // Marking the node active would have left ws-new off it until a full verify.
    const nodes = await store.nodes.list('shard-001');
    expect(nodes.map((n) => [n.nodeId, n.status])).toEqual(
      fleet.nodes.map((n) => [n.nodeId, n === flaky ? 'pending_sync' : 'active']),
    );
    expect(nodes.find((n) => n.nodeId === flaky.nodeId)).toMatchObject({
      workPk: 'node#pending_sync',
    });
    await expect(run('job-2')).resolves.toMatchObject({ outcome: 'active', superseded: [] });
    expect(flaky.state.stores.has('ws-new')).toBe(true);
  });

  it('fails the job, after every node is done, when a node state cannot be recorded', async () => {
    const { run, store } = await shard(['ws-1']);
    const throttled = withNodes(store, {
      recordAttempts: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    });
    await expect(
      convergeShard('shard-001', 'job-1', { stores: throttled, strategyFor }, settings),
    ).rejects.toThrow('ProvisionedThroughputExceededException');
    // Every node was still converged, and the lease is free for SQS's retry.
    expect(fleet.nodes.every((n) => n.state.stores.has('ws-1'))).toBe(true);
    await expect(run('job-2')).resolves.toMatchObject({ outcome: 'active' });
  });

  it('removes an orphan store only after the grace period', async () => {
    const { run } = await shard(['ws-1']);
    const node = fleet.nodes[0]!;
    node.state.stores.add('orphan-1');
    await run();
    expect(node.state.stores.has('orphan-1')).toBe(true);
    now = new Date(now.getTime() + 59_000);
    await run('job-2');
    expect(node.state.stores.has('orphan-1')).toBe(true);
    now = new Date(now.getTime() + 1_000);
    await run('job-3');
    expect(node.state.stores.has('orphan-1')).toBe(false);
    expect(node.state.stores.has('ws-1')).toBe(true);
  });

  it('never converges one shard twice at once', async () => {
    const { run } = await shard(Array.from({ length: 300 }, (_, i) => `ws-${i}`));
    for (const n of fleet.nodes) n.setFaults({ latencyMs: 50 });
    const outcomes = await Promise.allSettled([run('job-a'), run('job-b')]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ShardLeasedError);
    // Released afterwards: the next job runs.
    await expect(run('job-c')).resolves.toMatchObject({ outcome: 'active' });
  });

  it('treats unknown shards and shards without nodes as done or failed at once', async () => {
    const { store } = await shard([]);
    await expect(
      convergeShard('shard-404', 'j', { stores: store, strategyFor }, settings),
    ).resolves.toEqual({ outcome: 'unknown_shard' });
    await store.shards.recordTopology({ shardId: 'shard-empty', role: 'database', nodes: [] });
    await expect(
      convergeShard('shard-empty', 'j', { stores: store, strategyFor }, settings),
    ).resolves.toMatchObject({ outcome: 'failed' });
    expect(await store.shards.get('shard-empty')).toMatchObject({
      status: 'failed',
      lastError: 'shard has no nodes',
    });
  });

  it('sets a shard of a role without convergence logic active at once, touching no node', async () => {
    const { run } = await shard(['ws-1'], { role: 'cache' });
    const before = requestsTo(fleet.nodes[0]!.nodeId);
    await expect(run()).resolves.toMatchObject({ outcome: 'active', role: 'cache' });
    expect(requestsTo(fleet.nodes[0]!.nodeId)).toBe(before);
  });
});

describe('convergeShard node records (many nodes, converged without HTTP)', () => {
  const NODES = 30;
  /** A shard of NODES nodes, and a strategy whose nodes answer at once unless told to wait. */
  async function bigShard() {
    now = new Date();
    const client = localDynamoDb(dynamo.url);
    const tableName = `conv-${++tables}`;
    await createStateTable(client, tableName);
    const store = createStores({ tableName, client, clock: () => now });
    const nodeIds = Array.from({ length: NODES }, (_, i) => `m${String(i + 1).padStart(2, '0')}`);
    await store.shards.recordTopology({
      shardId: 'shard-big',
      role: 'database',
      nodes: nodeIds.map((nodeId, i) => ({ nodeId, endpoint: `http://127.0.0.1:${9500 + i}` })),
    });
    return { store, nodeIds };
  }
  const strategyWith = (converge: NodeConverger) => () => ({ forShard: () => converge });

  it('writes 25 records per call, the first while other nodes are still working; superseded per node', async () => {
    const { store, nodeIds } = await bigShard();
    const batches: string[][] = [];
    let firstBatchSent = () => {};
    const firstBatch = new Promise<void>((resolve) => {
      firstBatchSent = resolve;
    });
    let lateNodesWaited = true;
    const converge: NodeConverger = async (node) => {
      // The last five nodes finish only once the first batch is on its way (or give up).
      if (nodeIds.indexOf(node.nodeId) >= 25) {
        const waited = await Promise.race([
          firstBatch.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
        ]);
        lateNodesWaited &&= waited;
      }
      return node.nodeId === 'm07'
        ? { nodeId: node.nodeId, ok: false, error: 'apply failed' }
        : { nodeId: node.nodeId, ok: true };
    };
    const stores = withNodes(store, {
      list: async (shardId) => {
        const nodes = await store.nodes.list(shardId);
        // Changed by someone else after this job read it.
        await store.nodes.markPendingSync(shardId, 'm12', 'push failed');
        return nodes;
      },
      recordAttempts: (attempts) => {
        batches.push(attempts.map((a) => a.node.nodeId));
        firstBatchSent();
        return store.nodes.recordAttempts(attempts);
      },
    });
    const result = await convergeShard(
      'shard-big',
      'job-1',
      { stores, strategyFor: strategyWith(converge) },
      { ...settings, nodeParallelism: 64 },
    );
    expect(lateNodesWaited).toBe(true);
    expect(batches.map((b) => b.length)).toEqual([25, 5]);
    expect(batches.flat().sort()).toEqual(nodeIds);
    expect(result).toMatchObject({
      outcome: 'failed',
      failures: [{ nodeId: 'm07', error: 'apply failed' }],
      superseded: ['m12'],
    });
    const records = await store.nodes.list('shard-big');
    expect(records.map((n) => [n.nodeId, n.status])).toEqual(
      nodeIds.map((id) => [id, id === 'm07' || id === 'm12' ? 'pending_sync' : 'active']),
    );
    expect(records.find((n) => n.nodeId === 'm12')).toMatchObject({ lastError: 'push failed' });
  });

  it('fails the job when one batch cannot be recorded, after the others are written', async () => {
    const { store } = await bigShard();
    const stores = withNodes(store, {
      recordAttempts: (attempts) =>
        attempts.length === 25
          ? store.nodes.recordAttempts(attempts)
          : Promise.reject(new Error('still throttled')),
    });
    const strategy = strategyWith(async (node) => ({ nodeId: node.nodeId, ok: true }));
    await expect(
      convergeShard('shard-big', 'job-1', { stores, strategyFor: strategy }, settings),
    ).rejects.toThrow('still throttled');
    const records = await store.nodes.list('shard-big');
    expect(records.filter((n) => n.lastSyncAt).length).toBe(25);
    // The lease is free for SQS's retry, which records the rest.
    await expect(
      convergeShard('shard-big', 'job-2', { stores: store, strategyFor: strategy }, settings),
    ).resolves.toMatchObject({ outcome: 'active', superseded: [] });
  });
});
