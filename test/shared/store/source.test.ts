import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/index.ts';
import type { SourceSyncSummary } from '../../../shared/domain/ports.ts';
import { eventKeyOf } from '../../../shared/domain/workspace-lifecycle.ts';
import { createStores, type TableStores } from '../../../shared/store/index.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

let emulator: DynamoDbEmulator;
let client: ReturnType<typeof localDynamoDb>;
let table = 0;
let stores: TableStores;
let now = new Date('2026-11-22T10:00:00.000Z');

beforeAll(async () => {
  emulator = await startDynamoDbEmulator({ port: 0 });
  client = localDynamoDb(emulator.url);
});
afterAll(() => emulator.stop());
beforeEach(async () => {
  const tableName = `source-${++table}`;
  await createStateTable(client, tableName);
  now = new Date('2026-11-22T10:00:00.000Z');
  stores = createStores({ tableName, client, clock: () => now });
});

const summary = (overrides: Partial<SourceSyncSummary> = {}): SourceSyncSummary => ({
  runCount: 1,
  startedAt: now.toISOString(),
  finishedAt: now.toISOString(),
  durationMs: 5,
  full: false,
  complete: true,
  asOf: '2026-11-22T09:59:00.000Z',
  counts: { location_missing: 0, workspace_missing: 0, workspace_behind: 0, workspace_absent: 0 },
  repairsSent: 0,
  repairsFailed: 0,
  held: 0,
  waiting: 0,
  errors: [],
  ...overrides,
});

const workspace = (workspaceId: string, deleted = false, occurredAt = now.toISOString()) => ({
  workspaceId,
  userId: `user-${workspaceId}`,
  businessId: 'biz-1',
  locationId: 'loc-1',
  deleted,
  occurredAt,
  eventKey: eventKeyOf(occurredAt, deleted),
});

describe('SourceStore', () => {
  it('starts empty, then remembers run count, asOf, cursor and last success', async () => {
    expect(await stores.source.get()).toEqual({ runCount: 0 });
    await stores.source.writeSummary(summary());
    expect(await stores.source.get()).toEqual({
      runCount: 1,
      asOf: '2026-11-22T09:59:00.000Z',
      lastSuccessAt: now.toISOString(),
    });
    // An incomplete, failing run keeps the previous asOf and success, and leaves a cursor.
    now = new Date(now.getTime() + 60_000);
    const cursor = { full: true, listing: 'workspaces' as const, cursor: 'c1', asOf: 'x' };
    await stores.source.writeSummary(
      summary({ runCount: 2, asOf: undefined, complete: false, cursor, errors: ['boom'] }),
    );
    expect(await stores.source.get()).toEqual({
      runCount: 2,
      asOf: '2026-11-22T09:59:00.000Z',
      cursor,
      lastSuccessAt: '2026-11-22T10:00:00.000Z',
    });
    // The cursor goes once a run finishes its listings.
    await stores.source.writeSummary(summary({ runCount: 3 }));
    expect((await stores.source.get()).cursor).toBeUndefined();
    const last = await stores.source.last();
    expect(last).toMatchObject({ runCount: 3, errors: [] });
  });

  it('writes a history item per run with a TTL', async () => {
    await stores.source.writeSummary(summary());
    const history = await stores.table.queryPrefix<{ expiresAt: number }>('SOURCE', '#');
    expect(history).toHaveLength(1);
    expect(history[0]!.expiresAt).toBe(Math.floor(now.getTime() / 1000) + 7 * 24 * 3600);
  });

  it('saves absence grouped by instant, rewriting only changed chunks', async () => {
    const absence = new Map<string, string>();
    for (let i = 0; i < 500; i++) absence.set(`ws-${i}`, i % 2 ? 'T1' : 'T2');
    await stores.source.saveAbsence(absence, new Map());
    const loaded = await stores.source.loadAbsence();
    expect(loaded.absentSince).toEqual(absence);
    expect(loaded.held).toEqual(new Set());

    const next = new Map(absence);
    next.delete('ws-1');
    next.set('ws-new', 'T3');
    await stores.source.saveAbsence(next, absence);
    expect((await stores.source.loadAbsence()).absentSince).toEqual(next);
    // Nothing changed: nothing written.
    const before = await stores.table.queryPrefix<{ version: number }>('SOURCE', 'ABSENT#');
    await stores.source.saveAbsence(next, next);
    expect(await stores.table.queryPrefix('SOURCE', 'ABSENT#')).toEqual(before);
    await stores.source.saveAbsence(new Map(), next);
    expect((await stores.source.loadAbsence()).absentSince.size).toBe(0);
  });

  it('holds deletions, lists them, and releases them idempotently', async () => {
    const held = Array.from({ length: 30 }, (_, i) => ({
      workspaceId: `ws-${i}`,
      userId: `u-${i}`,
      businessId: 'biz-1',
      locationId: 'loc-1',
      absentSince: 'T1',
      asOf: 'T2',
    }));
    await stores.source.hold(held);
    await stores.source.hold(held.slice(0, 3));
    expect(
      (await stores.source.listHeld()).sort((a, b) => a.workspaceId.localeCompare(b.workspaceId)),
    ).toEqual([...held].sort((a, b) => a.workspaceId.localeCompare(b.workspaceId)));
    expect((await stores.source.loadAbsence()).held).toEqual(
      new Set(held.map((h) => h.workspaceId)),
    );
    await stores.source.release(held.slice(0, 28).map((h) => h.workspaceId));
    await stores.source.release(['ws-0', 'never-held']);
    expect((await stores.source.listHeld()).map((h) => h.workspaceId).sort()).toEqual([
      'ws-28',
      'ws-29',
    ]);
  });
});

describe('SourceStateReader', () => {
  it('knows locations by key, in batches of 100', async () => {
    for (let i = 0; i < 150; i += 2) {
      await stores.locations.claim(
        { businessId: 'biz-1', locationId: `loc-${i}`, businessType: 'restaurant' },
        'owner',
        60_000,
      );
    }
    // A workspace waiting for a location is not the location: its shard.create never came.
    await stores.locations.awaitPlacement({ businessId: 'biz-1', locationId: 'loc-1' });
    const refs = Array.from({ length: 150 }, (_, i) => ({
      businessId: 'biz-1',
      locationId: `loc-${i}`,
    }));
    const known = await stores.sourceReader.knownLocations(refs);
    expect(known.size).toBe(75);
    expect(known.has('biz-1#loc-0')).toBe(true);
    expect(known.has('biz-1#loc-1')).toBe(false);
  });

  it('reads workspaces by id, tombstones included, and lists only live ones', async () => {
    await stores.workspaces.recordEvent(workspace('ws-active'), 'shard-1');
    await stores.workspaces.recordEvent(workspace('ws-pending'), undefined);
    await stores.workspaces.recordEvent(workspace('ws-gone'), 'shard-1');
    const later = new Date(now.getTime() + 1000).toISOString();
    await stores.workspaces.recordEvent(workspace('ws-gone', true, later), 'shard-1');
    // Placed later: still live.
    const pending = await stores.workspaces.get('ws-pending');
    await stores.workspaces.place('ws-pending', 'shard-1', pending!.lastEventKey);

    const byId = await stores.sourceReader.getWorkspaces(['ws-active', 'ws-gone', 'ws-unknown']);
    expect([...byId.keys()].sort()).toEqual(['ws-active', 'ws-gone']);
    expect(byId.get('ws-gone')).toMatchObject({ status: 'deleted', lastEventAt: later });

    const live = await stores.sourceReader.listLiveWorkspaces();
    expect(live.map((w) => w.workspaceId).sort()).toEqual(['ws-active', 'ws-pending']);
    expect(live.find((w) => w.workspaceId === 'ws-active')).toEqual({
      workspaceId: 'ws-active',
      userId: 'user-ws-active',
      businessId: 'biz-1',
      locationId: 'loc-1',
      status: 'active',
      lastEventAt: now.toISOString(),
      lastEventKey: eventKeyOf(now.toISOString(), false),
    });
  });
});
