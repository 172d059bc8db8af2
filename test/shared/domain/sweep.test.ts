import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/index.ts';
import { type CitrusSimulator, startCitrus } from '../../../local/simulators/citrus.ts';
import { CitrusClient } from '../../../shared/adapters/citrus-client.ts';
import type { ConvergeReason } from '../../../shared/contracts/messages.ts';
import { nextNodeState } from '../../../shared/domain/node-status.ts';
import { Secret } from '../../../shared/domain/secret.ts';
import { runSweep, type SweepSettings } from '../../../shared/domain/sweep.ts';
import { createStores } from '../../../shared/store/index.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

const API_KEY = 'sweep-test-key';
let dynamo: DynamoDbEmulator;
let citrus: CitrusSimulator;
let tables = 0;
const nodes = (shard: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    nodeId: `${shard}-n${i + 1}`,
    endpoint: `http://127.0.0.1:1/${shard}/${i + 1}`,
  }));

beforeAll(async () => {
  dynamo = await startDynamoDbEmulator({ port: 0 });
});
afterAll(async () => {
  await citrus?.stop();
  await dynamo.stop();
});

async function world(shardCount = 3) {
  await citrus?.stop();
  citrus = await startCitrus({
    port: 0,
    apiKey: API_KEY,
    shards: Array.from({ length: shardCount }, (_, i) => {
      const shardId = `s${i + 1}`;
      return { shardId, role: 'database', nodes: nodes(shardId, 2) };
    }),
  });
  const client = localDynamoDb(dynamo.url);
  let requests = 0;
  client.middlewareStack.add(
    (next) => (args) => {
      requests++;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const tableName = `sweep-${++tables}`;
  await createStateTable(client, tableName);
  const store = createStores({ tableName, client });
  const sent: Array<{ shardId: string; reason: ConvergeReason }> = [];
  let remaining = 60_000;
  const ports = {
    stores: store,
    citrus: new CitrusClient({
      baseUrl: citrus.url,
      apiKey: new Secret(API_KEY),
      timeoutMs: 2000,
      attempts: 1,
    }),
    enqueue: async (jobs: ReadonlyArray<{ shardId: string; reason: ConvergeReason }>) => {
      sent.push(...jobs);
      return [];
    },
    remainingMs: () => remaining,
  };
  const settings: SweepSettings = {
    enabled: true,
    fullVerifyEvery: 100,
    reserveMs: 5_000,
    pageSize: 2,
  };
  return {
    store,
    sent,
    sweep: (overrides: Partial<SweepSettings> = {}) => {
      sent.length = 0;
      requests = 0;
      return runSweep(ports, { ...settings, ...overrides });
    },
    requests: () => requests,
    setRemaining: (ms: number) => {
      remaining = ms;
    },
  };
}

describe('runSweep (real stores, Citrus simulator over HTTP)', () => {
  it('touches nothing when the kill switch is off', async () => {
    const w = await world();
    await expect(w.sweep({ enabled: false })).resolves.toEqual({ outcome: 'disabled' });
    expect(w.requests()).toBe(0);
    expect(w.sent).toEqual([]);
    expect(await w.store.sweeps.get()).toEqual({ sweepCount: 0 });
  });

  it('records new shards, then is quiet: a handful of requests and no job', async () => {
    const w = await world(5);
    const first = await w.sweep();
    expect(first).toMatchObject({
      outcome: 'swept',
      complete: true,
      counts: { shardsSeen: 5, shardsChanged: 5 },
    });
    expect((await w.store.nodes.list('s1')).map((n) => n.status)).toEqual(['active', 'active']);
    expect(w.sent).toEqual([]);
    const quiet = await w.sweep();
    expect(quiet).toMatchObject({
      sweepCount: 2,
      counts: { shardsSeen: 5, shardsChanged: 0 },
      jobs: 0,
      errors: [],
    });
    // GetItem(SWEEP) + BatchGet(digests) + 6 work-index queries + 2 summary writes.
    expect(w.requests()).toBe(10);
    expect(await w.store.sweeps.get()).toMatchObject({
      sweepCount: 2,
      lastSuccessAt: quiet.outcome === 'swept' ? quiet.finishedAt : '',
    });
  });

  it('records a node that joined as joining with one node_joined job, and decommissions a node that left', async () => {
    const w = await world();
    await w.sweep();
    citrus.addNode('s2', { nodeId: 's2-n9', endpoint: 'http://127.0.0.1:1/s2/9' });
    citrus.removeNode('s2', 's2-n1');
    const result = await w.sweep();
    expect(result).toMatchObject({
      counts: { shardsChanged: 1, nodesJoined: 1, nodesDecommissioned: 1 },
    });
    expect(w.sent).toEqual([{ shardId: 's2', reason: 'node_joined' }]);
    const byId = Object.fromEntries(
      (await w.store.nodes.list('s2')).map((n) => [n.nodeId, n.status]),
    );
    expect(byId).toEqual({ 's2-n1': 'decommissioned', 's2-n2': 'active', 's2-n9': 'joining' });
    // Until converged, a joining node keeps asking for a job.
    await w.sweep();
    expect(w.sent).toEqual([{ shardId: 's2', reason: 'node_joined' }]);
  });

  it('finds pending_sync nodes, failed shards and due error nodes through the work index, one job per shard', async () => {
    const w = await world();
    await w.sweep();
    await w.store.nodes.markPendingSync('s1', 's1-n1', 'down');
    await w.store.nodes.markPendingSync('s1', 's1-n2', 'down');
    await w.store.shards.acquireLease('s1', 'job', 60_000);
    await w.store.shards.finishConvergence('s1', 'job', 'failed', {
      lastError: 'x',
      lastConvergedAt: new Date().toISOString(),
    });
    const past = nextNodeState(
      { shardId: 's2', nodeId: 's2-n1', status: 'pending_sync', consecutiveFailures: 4 },
      { ok: false, error: 'down' },
      new Date(Date.now() - 3_600_000),
    );
    const [s2n1] = await w.store.nodes.list('s2');
    await w.store.nodes.recordAttempts([{ node: s2n1!, transition: past! }]);
    const future = nextNodeState(
      { shardId: 's3', nodeId: 's3-n1', status: 'pending_sync', consecutiveFailures: 4 },
      { ok: false, error: 'down' },
      new Date(),
    );
    const [s3n1] = await w.store.nodes.list('s3');
    await w.store.nodes.recordAttempts([{ node: s3n1!, transition: future! }]);
    // Still down as far as Citrus knows: its backoff holds.
    citrus.setNodeHealthy('s3-n1', false);
    const result = await w.sweep();
    expect(result).toMatchObject({
      counts: { nodesPendingSync: 2, shardsFailed: 1, nodesRetried: 1 },
    });
    expect(w.sent.sort((a, b) => a.shardId.localeCompare(b.shardId))).toEqual([
      { shardId: 's1', reason: 'retry' },
      { shardId: 's2', reason: 'retry' },
    ]);
    expect((await w.store.nodes.list('s2'))[0]).toMatchObject({
      status: 'pending_sync',
      consecutiveFailures: 5,
    });
    expect((await w.store.nodes.list('s3'))[0]).toMatchObject({ status: 'error' });

    // Citrus reports it healthy again: due at once, whatever its backoff.
    citrus.setNodeHealthy('s3-n1', true);
    await expect(w.sweep()).resolves.toMatchObject({
      counts: { nodesRetried: 1, nodesRecovered: 1 },
    });
    expect(w.sent).toContainEqual({ shardId: 's3', reason: 'retry' });
    expect((await w.store.nodes.list('s3'))[0]).toMatchObject({ status: 'pending_sync' });
  });

  it('places a pending workspace whose location is now registered', async () => {
    const w = await world();
    await w.sweep();
    const event = {
      workspaceId: 'ws-1',
      userId: 'u',
      businessId: 'b',
      locationId: 'l',
      deleted: false,
      occurredAt: '2026-11-22T10:00:00.000Z',
      eventKey: '2026-11-22T10:00:00.000Z#0',
    };
    await w.store.workspaces.recordEvent(event, undefined);
    await w.sweep();
    expect(w.sent).toEqual([]);
    await w.store.locations.claim(
      { businessId: 'b', locationId: 'l', businessType: 'retail' },
      'm',
      1000,
    );
    await w.store.locations.complete(
      { businessId: 'b', locationId: 'l' },
      { shardId: 's3', shardKey: 'k' },
    );
    const result = await w.sweep();
    expect(result).toMatchObject({ counts: { workspacesPlaced: 1 } });
    expect(w.sent).toEqual([{ shardId: 's3', reason: 'drift' }]);
    expect(await w.store.workspaces.get('ws-1')).toMatchObject({ status: 'active', shardId: 's3' });
    expect((await w.store.resources.list('s3')).map((r) => [r.kind, r.workspaceId])).toEqual([
      ['store', 'ws-1'],
    ]);
  });

  it('asks for a verification of every shard every Nth sweep', async () => {
    const w = await world();
    await w.sweep({ fullVerifyEvery: 2 });
    expect(w.sent).toEqual([]);
    await w.sweep({ fullVerifyEvery: 2 });
    expect(w.sent.map((j) => j.reason)).toEqual(['verify', 'verify', 'verify']);
  });

  it('stops paging Citrus when time runs low and resumes from the cursor', async () => {
    const w = await world(5);
    w.setRemaining(1_000);
    const partial = await w.sweep();
    // pageSize 2: one page read, then out of time.
    expect(partial).toMatchObject({ complete: false, counts: { shardsSeen: 2 } });
    expect((await w.store.sweeps.get()).cursor).toBeTruthy();
    w.setRemaining(60_000);
    const rest = await w.sweep();
    expect(rest).toMatchObject({ complete: true, counts: { shardsSeen: 3, shardsChanged: 3 } });
    expect((await w.store.sweeps.get()).cursor).toBeUndefined();
    expect(await w.store.shards.get('s5')).toBeDefined();
  });

  it('reports a Citrus outage and still works through the index', async () => {
    const w = await world();
    await w.sweep();
    await w.store.nodes.markPendingSync('s1', 's1-n1', 'down');
    citrus.setFaults({ errorRate: 1 });
    const result = await w.sweep();
    expect(result).toMatchObject({
      complete: false,
      errors: [expect.stringMatching(/^topology refresh: Citrus shardsHealth failed/)],
    });
    expect(w.sent).toEqual([{ shardId: 's1', reason: 'retry' }]);
    expect((await w.store.sweeps.get()).lastSuccessAt).toBeDefined();
    citrus.setFaults({});
  });
});
