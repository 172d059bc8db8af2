import type {
  BatchExecuteStatementCommandInput,
  BatchExecuteStatementCommandOutput,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type NodeTransition, nextNodeState } from '../../../shared/domain/node-status.ts';
import type { NodeRecord } from '../../../shared/domain/records.ts';
import { createStores, type TableStores } from '../../../shared/store/index.ts';
import { createDynamoDbClient } from '../../../shared/store/table.ts';
import {
  DYNAMO_START_TIMEOUT_MS,
  type DynamoEndpoint,
  describeEachDynamoTarget,
  uniqueTableName,
} from '../../support/dynamodb-targets.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

const location = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' };
const topology = {
  shardId: 'shard-001',
  role: 'database',
  nodes: [
    { nodeId: 'n1', endpoint: 'http://127.0.0.1:9101' },
    { nodeId: 'n2', endpoint: 'http://127.0.0.1:9102' },
  ],
};

/** Counts the requests a client sends, by operation. */
function countRequests(client: DynamoDBClient) {
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      calls.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'countStoreRequests' },
  );
  return calls;
}

/**
 * Answers the statements at `positions` of the next BatchExecuteStatement with `code` without
 * sending them, as AWS answers statements it throttles; the others run. Returns its remover.
 */
function failStatementsOnce(client: DynamoDBClient, positions: number[], code: string) {
  const name = 'failStatementsOnce';
  let armed = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!armed || context.commandName !== 'BatchExecuteStatementCommand') return next(args);
      armed = false;
      const input = args.input as BatchExecuteStatementCommandInput;
      const sent = input.Statements?.filter((_, i) => !positions.includes(i));
      const result = await next({ ...args, input: { ...input, Statements: sent } });
      const output = result.output as BatchExecuteStatementCommandOutput;
      const answers = [...(output.Responses ?? [])];
      const Responses = input.Statements?.map((_, i) =>
        positions.includes(i) ? { Error: { Code: code, Message: 'injected' } } : answers.shift(),
      );
      return { ...result, output: { ...output, Responses } };
    },
    { step: 'initialize', name },
  );
  return () => client.middlewareStack.remove(name);
}

// The same tests against the default local DynamoDB (dynalite) and AWS's DynamoDB Local: an
// emulator quirk must not hide a production bug.
describeEachDynamoTarget((target) => {
  let endpoint: DynamoEndpoint;
  let client: DynamoDBClient;
  let calls: string[];
  let repo: TableStores;
  let now = new Date('2026-11-22T10:00:00.000Z');

  beforeAll(async () => {
    endpoint = await target.start();
    client = localDynamoDb(endpoint.url);
    calls = countRequests(client);
  }, DYNAMO_START_TIMEOUT_MS);
  afterAll(async () => {
    client.destroy();
    await endpoint.stop();
  });
  beforeEach(async () => {
    const tableName = uniqueTableName('state');
    await createStateTable(client, tableName);
    now = new Date('2026-11-22T10:00:00.000Z');
    repo = createStores({ tableName, client, clock: () => now });
    calls.length = 0;
  });

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
      workspacesWaiting: false,
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

  it("works the same through the functions' client: handler cache, no SDK logger", async () => {
    const functions = createDynamoDbClient({
      endpoint: endpoint.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    expect(functions.middlewareStack.identify().join()).not.toContain('loggerMiddleware');
    const stores = createStores({
      tableName: repo.table.name,
      client: functions,
      clock: () => now,
    });
    try {
      // Each command twice or more: the second goes through the cached handler.
      for (const locationId of ['loc-a', 'loc-b']) {
        const at = { ...location, locationId };
        await expect(stores.locations.claim(at, 'm1', 60_000)).resolves.toEqual({
          outcome: 'claimed',
        });
        await stores.locations.complete(at, { shardId: 'shard-001', shardKey: 'key-1' });
        await expect(stores.locations.claim(at, 'm2', 60_000)).resolves.toMatchObject({
          outcome: 'assigned',
          shardId: 'shard-001',
        });
        await expect(stores.locations.get(at)).resolves.toMatchObject({ status: 'active' });
        await stores.shards.recordTopology(topology);
        await expect(stores.nodes.markPendingSync('shard-001', 'n1', 'down')).resolves.toBe(true);
      }
      expect((await stores.nodes.list('shard-001')).map((n) => n.status)).toEqual([
        'pending_sync',
        'active',
      ]);
    } finally {
      functions.destroy();
    }
  });

  it('notes a waiting workspace: before the location exists, while it registers, or after', async () => {
    const assignment = { shardId: 'shard-001', shardKey: 'key-1' };
    // Before any shard.create: a bare note, which is not a location to anyone who reads one.
    await expect(repo.locations.awaitPlacement(location)).resolves.toBeUndefined();
    await expect(repo.locations.get(location)).resolves.toBeUndefined();
    await expect(repo.locations.shardOf(location)).resolves.toBeUndefined();
    // The note does not keep the location from being claimed; completing it finds the note.
    await expect(repo.locations.claim(location, 'm1', 60_000)).resolves.toEqual({
      outcome: 'claimed',
    });
    await expect(repo.locations.complete(location, assignment)).resolves.toEqual({
      workspacesWaiting: true,
    });
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toMatchObject({
      outcome: 'assigned',
      workspacesWaiting: true,
    });
    // A note after the assignment gets the shard at once.
    await expect(repo.locations.awaitPlacement(location)).resolves.toBe('shard-001');
    expect(await repo.locations.get(location)).toMatchObject({
      status: 'active',
      businessType: 'restaurant',
    });
  });

  it('completes a location nobody waits for without looking for workspaces', async () => {
    await repo.locations.claim(location, 'm1', 60_000);
    await expect(
      repo.locations.complete(location, { shardId: 'shard-001', shardKey: 'key-1' }),
    ).resolves.toEqual({ workspacesWaiting: false });
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

  it("keeps Citrus' answer across a released claim, until the registration completes", async () => {
    const answer = { shardId: 'shard-002', shardKey: 'key-2' };
    await repo.locations.claim(location, 'm1', 60_000);
    await repo.locations.release(location, 'm1', answer);
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'claimed',
      registeredAs: answer,
    });
    // Not an assignment yet: nothing reads the location as placed.
    await expect(repo.locations.shardOf(location)).resolves.toBeUndefined();
    await repo.locations.complete(location, answer);
    const record = await repo.locations.get(location);
    expect(record).toMatchObject({ status: 'active', ...answer });
    expect(record?.registeredAs).toBeUndefined();
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
    await expect(repo.shards.recordTopology(topology)).resolves.toMatchObject({
      shardCreated: true,
      previous: [],
    });
    await expect(repo.shards.recordTopology(topology)).resolves.toMatchObject({
      shardCreated: false,
    });
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

  it('answers a lost claim from the failed write itself: one request, no second read', async () => {
    await repo.locations.claim(location, 'm1', 60_000);
    await repo.locations.complete(location, { shardId: 'shard-001', shardKey: 'key-1' });
    calls.length = 0;
    await expect(repo.locations.claim(location, 'm2', 60_000)).resolves.toEqual({
      outcome: 'assigned',
      shardId: 'shard-001',
      shardKey: 'key-1',
      workspacesWaiting: false,
    });
    expect(calls).toEqual(['UpdateItem']);
  });

  it('tells a held lease from an unknown shard in one request each', async () => {
    await repo.shards.recordTopology(topology);
    await expect(repo.shards.acquireLease('shard-001', 'job-1', 60_000)).resolves.toMatchObject({
      outcome: 'acquired',
      shard: { shardId: 'shard-001', status: 'converging', leaseOwner: 'job-1' },
    });
    calls.length = 0;
    await expect(repo.shards.acquireLease('shard-001', 'job-2', 60_000)).resolves.toEqual({
      outcome: 'held',
    });
    await expect(repo.shards.acquireLease('shard-404', 'job-2', 60_000)).resolves.toEqual({
      outcome: 'unknown',
    });
    expect(calls).toEqual(['UpdateItem', 'UpdateItem']);
    // The verdict is written only by the lease holder, and gives the lease back.
    await repo.shards.finishConvergence('shard-001', 'job-2', 'active', { lastConvergedAt: 'x' });
    expect(await repo.shards.get('shard-001')).toMatchObject({ leaseOwner: 'job-1' });
    await repo.shards.finishConvergence('shard-001', 'job-1', 'failed', {
      lastError: 'n1: down',
      lastConvergedAt: now.toISOString(),
    });
    const failed = await repo.shards.get('shard-001');
    expect(failed).toMatchObject({
      status: 'failed',
      lastError: 'n1: down',
      workPk: 'shard#failed',
    });
    expect(failed).not.toHaveProperty('leaseOwner');
    await expect(repo.shards.listFailed()).resolves.toEqual(['shard-001']);
  });

  it('returns the newer workspace record when an older event loses', async () => {
    const event = (second: number, deleted: boolean) => ({
      workspaceId: 'ws-1',
      userId: 'u1',
      businessId: 'biz-1',
      locationId: 'loc-1',
      deleted,
      occurredAt: `2026-11-22T10:00:0${second}.000Z`,
      eventKey: `2026-11-22T10:00:0${second}.000Z#${deleted ? 1 : 0}`,
    });
    await expect(repo.workspaces.recordEvent(event(5, true), 'shard-001')).resolves.toMatchObject({
      outcome: 'applied',
      record: { status: 'deleted', version: 1 },
    });
    calls.length = 0;
    await expect(repo.workspaces.recordEvent(event(4, false), 'shard-001')).resolves.toMatchObject({
      outcome: 'stale',
      record: { status: 'deleted', lastEventKey: '2026-11-22T10:00:05.000Z#1' },
    });
    expect(calls).toEqual(['UpdateItem']);
  });

  it("keeps a node's work entry due when its work is: now when pending, at the backoff's end in error", async () => {
    await repo.shards.recordTopology(topology);
    const policy = {
      errorAfterFailures: 1,
      errorBackoffBaseMs: 60_000,
      errorBackoffMaxMs: 600_000,
    };
    const [n1] = await repo.nodes.list('shard-001');
    const failed = nextNodeState(n1!, { ok: false, error: 'unreachable' }, now, policy)!;
    await expect(repo.nodes.recordAttempts([{ node: n1!, transition: failed }])).resolves.toEqual([
      true,
    ]);
    expect((await repo.nodes.list('shard-001'))[0]).toMatchObject({
      status: 'error',
      workPk: 'node#error',
      workSk: '2026-11-22T10:01:00.000Z#shard-001#n1',
    });
    await expect(repo.nodes.listNeedingWork('error', now)).resolves.toEqual([]);
    await expect(
      repo.nodes.listNeedingWork('error', new Date('2026-11-22T10:01:00.000Z')),
    ).resolves.toEqual([
      { shardId: 'shard-001', nodeId: 'n1', nextAttemptAt: '2026-11-22T10:01:00.000Z' },
    ]);
    // The same version read twice: the second write is refused (someone else's word is newer).
    await expect(repo.nodes.recordAttempts([{ node: n1!, transition: failed }])).resolves.toEqual([
      false,
    ]);
  });
  describe('recording convergence attempts', () => {
    const shardOf = (count: number) => ({
      shardId: 'shard-001',
      role: 'database',
      nodes: Array.from({ length: count }, (_, i) => ({
        nodeId: `n${String(i + 1).padStart(2, '0')}`,
        endpoint: `http://127.0.0.1:${9101 + i}`,
      })),
    });
    const failed = (node: NodeRecord) =>
      nextNodeState(node, { ok: false, error: 'down' }, now) as NodeTransition;
    const synced = (node: NodeRecord, followUp?: string) =>
      nextNodeState(node, { ok: true }, now, undefined, followUp) as NodeTransition;

    it('writes up to 25 per request: written or superseded per node, work entries kept', async () => {
      await repo.shards.recordTopology(shardOf(30));
      const read = await repo.nodes.list('shard-001');
      // Someone else's word on n02 after the convergence read it: n02 is superseded.
      await repo.nodes.markPendingSync('shard-001', 'n02', 'push failed');
      now = new Date(now.getTime() + 1_000);
      calls.length = 0;
      const results = await repo.nodes.recordAttempts(
        read.map((node) => ({ node, transition: failed(node) })),
      );
      expect(results).toEqual(read.map((n) => n.nodeId !== 'n02'));
      expect(calls).toEqual(['BatchExecuteStatement', 'BatchExecuteStatement']);
      const afterFailure = await repo.nodes.list('shard-001');
      expect(afterFailure[0]).toEqual({
        ...read[0],
        status: 'pending_sync',
        consecutiveFailures: 1,
        lastAttemptAt: now.toISOString(),
        lastError: 'down',
        workPk: 'node#pending_sync',
        workSk: `${now.toISOString()}#shard-001#n01`,
        version: 2,
        updatedAt: now.toISOString(),
      });
      expect(afterFailure[1]).toMatchObject({ lastError: 'push failed', version: 2 });

      // Back in sync: off the work index, lastError removed; n03 keeps an orphan for later.
      now = new Date(now.getTime() + 1_000);
      const orphans = { stores: { 'ws-9': now.toISOString() } };
      const followUp = new Date(now.getTime() + 60_000).toISOString();
      const again = await repo.nodes.recordAttempts(
        afterFailure.map((node) =>
          node.nodeId === 'n03'
            ? { node, transition: synced(node, followUp), orphans }
            : { node, transition: synced(node) },
        ),
      );
      expect(again.every(Boolean)).toBe(true);
      const [n01, n02, n03] = await repo.nodes.list('shard-001');
      expect(n01).toEqual({
        ...read[0],
        status: 'active',
        consecutiveFailures: 0,
        lastAttemptAt: now.toISOString(),
        lastSyncAt: now.toISOString(),
        version: 3,
        updatedAt: now.toISOString(),
      });
      expect(n02).toMatchObject({ status: 'active', version: 3 });
      expect(n02).not.toHaveProperty('lastError');
      expect(n03).toMatchObject({
        orphans,
        followUpAt: followUp,
        workPk: 'node#follow_up',
        workSk: `${followUp}#shard-001#n03`,
      });
      await expect(repo.nodes.listNeedingWork('follow_up', new Date(followUp))).resolves.toEqual([
        { shardId: 'shard-001', nodeId: 'n03' },
      ]);
    });

    it('sends statements throttled on their own again, so each is written once', async () => {
      await repo.shards.recordTopology(shardOf(3));
      const read = await repo.nodes.list('shard-001');
      const remove = failStatementsOnce(client, [0, 2], 'ProvisionedThroughputExceeded');
      try {
        calls.length = 0;
        await expect(
          repo.nodes.recordAttempts(read.map((node) => ({ node, transition: failed(node) }))),
        ).resolves.toEqual([true, true, true]);
      } finally {
        remove();
      }
      expect(calls).toEqual(['BatchExecuteStatement', 'BatchExecuteStatement']);
      const nodes = await repo.nodes.list('shard-001');
      expect(nodes.map((n) => [n.status, n.version])).toEqual(read.map(() => ['pending_sync', 2]));
    });

    it('rejects when a statement fails for any other reason', async () => {
      await repo.shards.recordTopology(shardOf(3));
      const read = await repo.nodes.list('shard-001');
      const remove = failStatementsOnce(client, [1], 'AccessDenied');
      try {
        calls.length = 0;
        await expect(
          repo.nodes.recordAttempts(read.map((node) => ({ node, transition: failed(node) }))),
        ).rejects.toThrow('update of SHARD#shard-001 / NODE#n02 failed: AccessDenied: injected');
      } finally {
        remove();
      }
      expect(calls).toEqual(['BatchExecuteStatement']);
    });

    it('sends nothing for no attempts', async () => {
      await expect(repo.nodes.recordAttempts([])).resolves.toEqual([]);
      expect(calls).toEqual([]);
    });
  });
});
