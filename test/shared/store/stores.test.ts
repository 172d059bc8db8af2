import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/index.ts';
import { createStores, type TableStores } from '../../../shared/store/index.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

let emulator: DynamoDbEmulator;
let client: ReturnType<typeof localDynamoDb>;
let table = 0;
let repo: TableStores;
let now = new Date('2026-11-22T10:00:00.000Z');
const location = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' };
const topology = {
  shardId: 'shard-001',
  role: 'database',
  nodes: [
    { nodeId: 'n1', endpoint: 'http://127.0.0.1:9101' },
    { nodeId: 'n2', endpoint: 'http://127.0.0.1:9102' },
  ],
};

beforeAll(async () => {
  emulator = await startDynamoDbEmulator({ port: 0 });
  client = localDynamoDb(emulator.url);
});
afterAll(() => emulator.stop());
beforeEach(async () => {
  const tableName = `state-${++table}`;
  await createStateTable(client, tableName);
  now = new Date('2026-11-22T10:00:00.000Z');
  repo = createStores({ tableName, client, clock: () => now });
});

describe('Repository on the local DynamoDB emulator', () => {
  it('claims a location once; a second owner is busy until the claim expires', async () => {
    await expect(repo.locations.claim(location, 'm1', 60_000)).resolves.toEqual({
      outcome: 'claimed',
    });
    await expect(repo.locations.claim(location, 'm1', 60_000)).resolves.toEqual({
      outcome: 'claimed',
    });
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'busy',
    });
    now = new Date(now.getTime() + 61_000);
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'claimed',
    });
  });

  it('reports the assignment of a registered location, whoever asks', async () => {
    await repo.locations.claim(location, 'm1', 60_000);
    await repo.locations.complete(location, { shardId: 'shard-001', shardKey: 'key-1' });
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'assigned',
      shardId: 'shard-001',
      shardKey: 'key-1',
    });
    const record = await repo.locations.get({ businessId: 'biz-1', locationId: 'loc-1' });
    expect(record).toMatchObject({
      status: 'active',
      shardId: 'shard-001',
      businessType: 'restaurant',
      version: 2,
    });
    expect(record?.claimedBy).toBeUndefined();
    expect(record?.createdAt).toBe('2026-11-22T10:00:00.000Z');
  });

  it('releases a claim only for its owner', async () => {
    await repo.locations.claim(location, 'm1', 60_000);
    await repo.locations.release(location, 'm2');
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'busy',
    });
    await repo.locations.release(location, 'm1');
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'claimed',
    });
  });

  it('rewrites a known node only when Citrus moved its endpoint', async () => {
    await repo.shards.recordTopology(topology);
    const version = async (nodeId: string) =>
      (await repo.nodes.list('shard-001')).find((n) => n.nodeId === nodeId)?.version;
    // Every shard.create on the shard records the same topology again: no write, no new version.
    await repo.shards.recordTopology(topology);
    expect(await version('n1')).toBe(1);
    const moved = 'http://127.0.0.1:9201';
    await repo.shards.recordTopology({
      ...topology,
      nodes: topology.nodes.map((n) => (n.nodeId === 'n1' ? { ...n, endpoint: moved } : n)),
    });
    const [n1, n2] = await repo.nodes.list('shard-001');
    expect(n1).toMatchObject({ endpoint: moved, version: 2, status: 'active' });
    expect(n2).toMatchObject({ version: 1 });
  });

  it('never marks an active location failed', async () => {
    await repo.locations.claim(location, 'm1', 60_000);
    await repo.locations.complete(location, { shardId: 'shard-001', shardKey: 'key-1' });
    await repo.locations.fail(location, 'late failure');
    expect((await repo.locations.get({ businessId: 'biz-1', locationId: 'loc-1' }))?.status).toBe(
      'active',
    );
  });

  it('records a new shard with active nodes, and later nodes as joining', async () => {
    await expect(repo.shards.recordTopology(topology)).resolves.toEqual({ shardCreated: true });
    await expect(repo.shards.recordTopology(topology)).resolves.toEqual({ shardCreated: false });
    await repo.shards.recordTopology({
      ...topology,
      nodes: [...topology.nodes, { nodeId: 'n3', endpoint: 'http://127.0.0.1:9103' }],
    });
    const nodes = await repo.nodes.list('shard-001');
    expect(nodes.map((n) => [n.nodeId, n.status])).toEqual([
      ['n1', 'active'],
      ['n2', 'active'],
      ['n3', 'joining'],
    ]);
    expect(nodes[2]).toMatchObject({ workPk: 'node#joining' });
    expect(nodes[0]).not.toHaveProperty('workPk');
    expect(await repo.shards.get('shard-001')).toMatchObject({
      role: 'database',
      status: 'active',
      version: 1,
    });
  });

  it('marks a node pending_sync with a work entry, but never a decommissioned one', async () => {
    await repo.shards.recordTopology(topology);
    await expect(
      repo.nodes.markPendingSync('shard-001', 'n1', 'connect ECONNREFUSED'),
    ).resolves.toBe(true);
    await expect(repo.nodes.markPendingSync('shard-001', 'missing', 'x')).resolves.toBe(false);
    const [n1] = await repo.nodes.list('shard-001');
    expect(n1).toMatchObject({
      status: 'pending_sync',
      lastError: 'connect ECONNREFUSED',
      lastAttemptAt: '2026-11-22T10:00:00.000Z',
      workPk: 'node#pending_sync',
      version: 2,
    });
  });

  it('stores the desired schema idempotently', async () => {
    await repo.resources.putSchema('shard-001', location);
    await repo.resources.putSchema('shard-001', location);
    const { Items } = await client.send(
      new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: repo.table.name }),
    );
    expect(Items).toHaveLength(1);
    expect(Items?.[0]?.sk?.S).toBe('RES#schema#biz-1#loc-1');
    expect(Items?.[0]?.status?.S).toBe('active');
  });
});
