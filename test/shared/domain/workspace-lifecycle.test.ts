import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/index.ts';
import type { WorkspaceMessage } from '../../../shared/contracts/messages.ts';
import { SharedReads } from '../../../shared/domain/pool.ts';
import type { DomainPorts, NodeOutcome } from '../../../shared/domain/ports.ts';
import type { NodeRecord } from '../../../shared/domain/records.ts';
import { createShardForLocation } from '../../../shared/domain/shard-creation.ts';
import {
  applyWorkspaceEvent,
  eventKeyOf,
  placePendingWorkspaces,
} from '../../../shared/domain/workspace-lifecycle.ts';
import { createStores } from '../../../shared/store/index.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

let emulator: DynamoDbEmulator;
let client: ReturnType<typeof localDynamoDb>;
let tables = 0;

beforeAll(async () => {
  emulator = await startDynamoDbEmulator({ port: 0 });
  client = localDynamoDb(emulator.url);
});
afterAll(() => emulator.stop());

const SHARD = 'shard-001';
const NODES = ['n1', 'n2'];

/** A fresh table with one registered location (biz-1/loc-1) on SHARD, and in-memory nodes. */
async function world(options: { nodeDelay?: () => number; offline?: string[] } = {}) {
  const tableName = `ws-${++tables}`;
  await createStateTable(client, tableName);
  const state = createStores({ tableName, client });
  const stores = new Map(NODES.map((n) => [n, new Set<string>()]));
  const wait = () => new Promise((r) => setTimeout(r, options.nodeDelay?.() ?? 0));
  const nodes = {
    putSchema: async () => 'created',
    putStore: async (endpoint: string, id: string) => {
      await wait();
      stores.get(endpoint)?.add(id);
      return 'monitoring_started';
    },
    deleteStore: async (endpoint: string, id: string) => {
      await wait();
      stores.get(endpoint)?.delete(id);
      return 'monitoring_stopped';
    },
  };
  const fanOut = async (
    targets: NodeRecord[],
    op: (endpoint: string) => Promise<unknown>,
  ): Promise<NodeOutcome[]> =>
    Promise.all(
      targets.map(async (n): Promise<NodeOutcome> => {
        if (options.offline?.includes(n.nodeId))
          return { nodeId: n.nodeId, ok: false, error: 'ECONNREFUSED' };
        await op(n.endpoint);
        return { nodeId: n.nodeId, ok: true };
      }),
    );
  const ports = {
    stores: state,
    agent: nodes,
    fanOut,
    citrus: undefined,
  } as unknown as DomainPorts;
  const register = async (businessId: string, locationId: string) => {
    await state.shards.recordTopology({
      shardId: SHARD,
      role: 'database',
      nodes: NODES.map((n) => ({ nodeId: n, endpoint: n })),
    });
    await state.locations.claim(
      { businessId, locationId, businessType: 'retail' },
      'setup',
      60_000,
    );
    await state.locations.complete({ businessId, locationId }, { shardId: SHARD, shardKey: 'k' });
  };
  await register('biz-1', 'loc-1');
  return { state, stores, nodes, ports, register };
}

function event(
  type: WorkspaceMessage['type'],
  workspaceId: string,
  second: number,
  locationId = 'loc-1',
): WorkspaceMessage {
  return {
    type,
    version: 1,
    id: `${type}-${workspaceId}-${second}`,
    occurredAt: new Date(Date.UTC(2026, 10, 22, 10, 0, second)).toISOString(),
    data: { workspaceId, userId: 'u1', businessId: 'biz-1', locationId },
  } as WorkspaceMessage;
}

describe('workspace lifecycle', () => {
  it('orders events by occurredAt, a delete after a create at the same instant', () => {
    expect(
      eventKeyOf('2026-11-22T10:00:00Z', false) < eventKeyOf('2026-11-22T10:00:00.000Z', true),
    ).toBe(true);
    expect(
      eventKeyOf('2026-11-22T10:00:01Z', false) > eventKeyOf('2026-11-22T10:00:00.999Z', true),
    ).toBe(true);
  });

  it('monitors a created store on every node, and removes it on delete', async () => {
    const w = await world();
    await expect(
      applyWorkspaceEvent(event('workspace.created', 'ws-1', 1), w.ports),
    ).resolves.toMatchObject({
      outcome: 'monitored',
      shardId: SHARD,
      succeeded: NODES,
    });
    expect([...w.stores.values()].every((s) => s.has('ws-1'))).toBe(true);
    await expect(
      applyWorkspaceEvent(event('workspace.deleted', 'ws-1', 2), w.ports),
    ).resolves.toMatchObject({ outcome: 'unmonitored' });
    expect([...w.stores.values()].some((s) => s.has('ws-1'))).toBe(false);
    const tombstone = await w.state.workspaces.get('ws-1');
    expect(tombstone?.status).toBe('deleted');
    expect(tombstone?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 29 * 24 * 3600);
  });

  it('reads the nodes of a shard once for the workspaces of a batch', async () => {
    const w = await world();
    const reads = vi.spyOn(w.state.nodes, 'list');
    const batch = new SharedReads<NodeRecord[]>();
    const outcomes = await Promise.all(
      ['ws-1', 'ws-2', 'ws-3'].map((id) =>
        applyWorkspaceEvent(event('workspace.created', id, 1), w.ports, batch),
      ),
    );
    expect(outcomes.map((o) => o.outcome)).toEqual(['monitored', 'monitored', 'monitored']);
    expect(reads).toHaveBeenCalledOnce();
    expect([...w.stores.values()].every((s) => s.size === 3)).toBe(true);
    // Without a batch, each event reads them.
    await applyWorkspaceEvent(event('workspace.deleted', 'ws-1', 2), w.ports);
    await applyWorkspaceEvent(event('workspace.deleted', 'ws-2', 2), w.ports);
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('ignores a create older than a recorded delete: no resurrection', async () => {
    const w = await world();
    await applyWorkspaceEvent(event('workspace.deleted', 'ws-1', 5), w.ports);
    const late = await applyWorkspaceEvent(event('workspace.created', 'ws-1', 4), w.ports);
    expect(late.outcome).toBe('stale');
    expect([...w.stores.values()].some((s) => s.has('ws-1'))).toBe(false);
    expect((await w.state.workspaces.get('ws-1'))?.status).toBe('deleted');
  });

  it('re-applies a redelivered newest event when the first delivery died before pushing', async () => {
    const w = await world();
    const message = event('workspace.created', 'ws-1', 1);
    // The first delivery recorded the event, then its sandbox died: nothing was pushed.
    const pushes = vi.spyOn(w.nodes, 'putStore');
    const dying = { ...w.ports, fanOut: async () => Promise.reject(new Error('sandbox killed')) };
    await expect(applyWorkspaceEvent(message, dying as DomainPorts)).rejects.toThrow('killed');
    expect([...w.stores.values()].some((s) => s.has('ws-1'))).toBe(false);
    await expect(applyWorkspaceEvent(message, w.ports)).resolves.toMatchObject({
      outcome: 'monitored',
    });
    expect([...w.stores.values()].every((s) => s.has('ws-1'))).toBe(true);
    // Once its push is done, a further redelivery is a no-op: one conditional write, no push.
    const before = pushes.mock.calls.length;
    await expect(applyWorkspaceEvent(message, w.ports)).resolves.toEqual({ outcome: 'duplicate' });
    expect(pushes.mock.calls.length).toBe(before);
  });

  it('marks an offline node pending_sync and still succeeds', async () => {
    const w = await world({ offline: ['n2'] });
    const result = await applyWorkspaceEvent(event('workspace.created', 'ws-1', 1), w.ports);
    expect(result).toMatchObject({
      outcome: 'monitored',
      succeeded: ['n1'],
      pendingSync: [{ nodeId: 'n2', error: 'ECONNREFUSED' }],
    });
    const nodes = await w.state.nodes.list(SHARD);
    expect(nodes.find((n) => n.nodeId === 'n2')?.status).toBe('pending_sync');
  });

  it('parks a workspace whose location is not registered, and places it once the location is', async () => {
    const w = await world();
    const parked = await applyWorkspaceEvent(
      event('workspace.created', 'ws-9', 1, 'loc-new'),
      w.ports,
    );
    expect(parked.outcome).toBe('pending_placement');
    expect(
      await w.state.workspaces.listPendingAt({ businessId: 'biz-1', locationId: 'loc-new' }),
    ).toHaveLength(1);
    await w.register('biz-1', 'loc-new');
    await expect(
      placePendingWorkspaces({ businessId: 'biz-1', locationId: 'loc-new' }, SHARD, w.ports),
    ).resolves.toBe(1);
    expect([...w.stores.values()].every((s) => s.has('ws-9'))).toBe(true);
    expect(await w.state.workspaces.get('ws-9')).toMatchObject({
      status: 'active',
      shardId: SHARD,
    });
    expect(
      await w.state.workspaces.listPendingAt({ businessId: 'biz-1', locationId: 'loc-new' }),
    ).toHaveLength(0);
  });

  it("places a workspace that races its location's shard.create, whatever the interleaving, without a sweep", async () => {
    const newLocation = { businessId: 'biz-1', locationId: 'loc-new', businessType: 'retail' };
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.boolean(), async (s, duplicate) => {
        const w = await world();
        // Every call to the location and workspace stores waits for the scheduler: it decides
        // how the two deliveries' reads and writes interleave.
        const scheduled = <T extends object>(store: T, name: string): T =>
          new Proxy(store, {
            get(target, method, receiver) {
              const real = Reflect.get(target, method, receiver);
              if (typeof real !== 'function') return real;
              return async (...args: unknown[]) => {
                await s.schedule(Promise.resolve(), `${name}.${String(method)}`);
                return real.apply(target, args);
              };
            },
          });
        const citrus = {
          register: async () => ({ shardKey: 'k', shardId: SHARD }),
          getShard: async () => ({
            shardId: SHARD,
            role: 'database',
            nodes: NODES.map((n) => ({ nodeId: n, endpoint: n })),
          }),
        };
        const ports = {
          ...w.ports,
          citrus,
          stores: {
            ...w.state,
            locations: scheduled(w.state.locations, 'locations'),
            workspaces: scheduled(w.state.workspaces, 'workspaces'),
          },
        } as unknown as DomainPorts;
        const created = event('workspace.created', 'ws-race', 1, 'loc-new');
        const deliveries = [
          createShardForLocation(newLocation, 'msg-shard', ports),
          applyWorkspaceEvent(created, ports),
          ...(duplicate ? [applyWorkspaceEvent(created, ports)] : []),
        ];
        await s.waitFor(Promise.allSettled(deliveries));
        await Promise.all(deliveries);
        expect(await w.state.workspaces.get('ws-race')).toMatchObject({
          status: 'active',
          shardId: SHARD,
        });
        for (const [nodeId, stores] of w.stores) {
          expect(stores.has('ws-race'), `store on ${nodeId}`).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('never places a workspace deleted while it waited', async () => {
    const w = await world();
    await applyWorkspaceEvent(event('workspace.created', 'ws-9', 1, 'loc-new'), w.ports);
    await applyWorkspaceEvent(event('workspace.deleted', 'ws-9', 2, 'loc-new'), w.ports);
    await w.register('biz-1', 'loc-new');
    await expect(
      placePendingWorkspaces({ businessId: 'biz-1', locationId: 'loc-new' }, SHARD, w.ports),
    ).resolves.toBe(0);
    expect([...w.stores.values()].some((s) => s.has('ws-9'))).toBe(false);
  });

  it('ends in the state of the newest event, whatever the interleaving and duplication', async () => {
    const workspaceEvents = fc.array(
      fc.record({
        workspace: fc.constantFrom('ws-a', 'ws-b', 'ws-c'),
        deleted: fc.boolean(),
        second: fc.integer({ min: 0, max: 5 }),
      }),
      { minLength: 1, maxLength: 12 },
    );
    await fc.assert(
      fc.asyncProperty(
        workspaceEvents,
        fc.array(fc.nat(20), { minLength: 64, maxLength: 64 }),
        fc.scheduler(),
        async (drawn, delays, s) => {
          let d = 0;
          const w = await world({ nodeDelay: () => delays[d++ % delays.length] ?? 0 });
          // Every event delivered twice (at-least-once), all concurrently, in an order the scheduler picks.
          const deliveries = [...drawn, ...drawn].map((e) =>
            s
              .schedule(
                Promise.resolve(),
                `${e.workspace} ${e.deleted ? 'del' : 'cre'} @${e.second}`,
              )
              .then(() =>
                applyWorkspaceEvent(
                  event(
                    e.deleted ? 'workspace.deleted' : 'workspace.created',
                    e.workspace,
                    e.second,
                  ),
                  w.ports,
                ),
              ),
          );
          await s.waitAll();
          await Promise.all(deliveries);
          for (const workspace of new Set(drawn.map((e) => e.workspace))) {
            const newest = drawn
              .filter((e) => e.workspace === workspace)
              .map((e) => ({
                ...e,
                key: eventKeyOf(
                  event('workspace.created', workspace, e.second).occurredAt,
                  e.deleted,
                ),
              }))
              .sort((a, b) => (a.key < b.key ? -1 : 1))
              .at(-1)!;
            const record = await w.state.workspaces.get(workspace);
            expect(record?.status).toBe(newest.deleted ? 'deleted' : 'active');
            for (const [nodeId, stores] of w.stores) {
              expect(stores.has(workspace), `${workspace} on ${nodeId}`).toBe(!newest.deleted);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
