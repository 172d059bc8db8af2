import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../shared/contracts/messages.ts';
import type { SourceLocation, SourceWorkspace } from '../../../shared/contracts/source.ts';
import {
  type AbsenceMemory,
  type DeletionSettings,
  type FullSnapshot,
  heldDeletionMessage,
  loadOurState,
  locationKey,
  nextUpdatedSince,
  type OurState,
  type OurWorkspace,
  planFullSnapshot,
  planIncremental,
  type SourceSyncStateReader,
  type SyncPlan,
  sourceEventId,
} from '../../../shared/domain/source-sync.ts';
import { eventKeyOf } from '../../../shared/domain/workspace-lifecycle.ts';

const T0 = '2026-11-22T10:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

const listedLocation = (n: number, updatedAt = at(0)): SourceLocation => ({
  businessId: 'biz-1',
  locationId: `loc-${n}`,
  businessType: 'restaurant',
  updatedAt,
});

const listedWorkspace = (
  id: string,
  status: SourceWorkspace['status'],
  updatedAt: string,
): SourceWorkspace => ({
  workspaceId: id,
  userId: `user-of-${id}`,
  businessId: 'biz-1',
  locationId: 'loc-1',
  status,
  updatedAt,
});

const ourWorkspace = (
  id: string,
  status: OurWorkspace['status'],
  lastEventAt: string,
): OurWorkspace => ({
  workspaceId: id,
  userId: `user-of-${id}`,
  businessId: 'biz-1',
  locationId: 'loc-1',
  status,
  lastEventAt,
});

function state(workspaces: OurWorkspace[] = [], locations: string[] = []): OurState {
  return {
    locations: new Set(locations),
    workspaces: new Map(workspaces.map((w) => [w.workspaceId, w])),
  };
}

const liveFleet = (count: number, lastEventAt = at(-600)) =>
  Array.from({ length: count }, (_, i) =>
    ourWorkspace(`ws-${String(i).padStart(4, '0')}`, 'active', lastEventAt),
  );
const listedFleet = (fleet: OurWorkspace[]) =>
  fleet.map((w) => listedWorkspace(w.workspaceId, 'active', w.lastEventAt));

const settings: DeletionSettings = { deleteGraceSeconds: 3600, maxDeletes: 100 };
const noMemory: AbsenceMemory = { absentSince: new Map() };

/** Every planned message must be one the ordinary handlers accept. */
function expectValid(plan: SyncPlan) {
  for (const { message } of plan.repairs) {
    const parsed = parseMessage(JSON.stringify(message));
    expect(parsed, JSON.stringify(message)).toEqual({ ok: true, message });
  }
}

const messages = (plan: SyncPlan) => plan.repairs.map((r) => r.message);

describe('planIncremental', () => {
  it('sends shard.create for a location unknown here, once, and nothing for a known one', () => {
    const plan = planIncremental(
      {
        locations: [listedLocation(1), listedLocation(2), listedLocation(2)],
        workspaces: [],
        asOf: at(5),
      },
      state([], [locationKey({ businessId: 'biz-1', locationId: 'loc-1' })]),
    );
    expect(messages(plan)).toEqual([
      {
        type: 'shard.create',
        version: 1,
        id: `source:location:biz-1:loc-2:${at(0)}`,
        occurredAt: at(0),
        data: { businessId: 'biz-1', locationId: 'loc-2', businessType: 'restaurant' },
      },
    ]);
    expect(plan.counts).toEqual({
      location_missing: 1,
      workspace_missing: 0,
      workspace_behind: 0,
      workspace_absent: 0,
    });
    expectValid(plan);
  });

  it('sends workspace.created for a workspace missing here, dated at its updatedAt', () => {
    const plan = planIncremental(
      { locations: [], workspaces: [listedWorkspace('ws-1', 'active', at(1))], asOf: at(5) },
      state(),
    );
    expect(plan.repairs).toEqual([
      {
        drift: 'workspace_missing',
        message: {
          type: 'workspace.created',
          version: 1,
          id: `source:created:ws-1:${at(1)}`,
          occurredAt: at(1),
          data: {
            workspaceId: 'ws-1',
            userId: 'user-of-ws-1',
            businessId: 'biz-1',
            locationId: 'loc-1',
          },
        },
      },
    ]);
    expectValid(plan);
  });

  it('sends workspace.deleted for a deletion newer than our last event', () => {
    const plan = planIncremental(
      { locations: [], workspaces: [listedWorkspace('ws-1', 'deleted', at(3))], asOf: at(5) },
      state([ourWorkspace('ws-1', 'active', at(1))]),
    );
    expect(plan.repairs).toEqual([
      {
        drift: 'workspace_behind',
        message: expect.objectContaining({
          type: 'workspace.deleted',
          id: `source:deleted:ws-1:${at(3)}`,
          occurredAt: at(3),
        }),
      },
    ]);
    expect(plan.counts.workspace_behind).toBe(1);
    expectValid(plan);
  });

  it('sends workspace.deleted for a deletion of a workspace we never saw (a tombstone)', () => {
    const plan = planIncremental(
      { locations: [], workspaces: [listedWorkspace('ws-1', 'deleted', at(3))], asOf: at(5) },
      state(),
    );
    expect(messages(plan)).toEqual([expect.objectContaining({ type: 'workspace.deleted' })]);
    expect(plan.counts.workspace_missing).toBe(1);
  });

  it('re-creates a workspace the source recreated after our deletion', () => {
    const plan = planIncremental(
      { locations: [], workspaces: [listedWorkspace('ws-1', 'active', at(4))], asOf: at(5) },
      state([ourWorkspace('ws-1', 'deleted', at(2))]),
    );
    expect(messages(plan)).toEqual([
      expect.objectContaining({ type: 'workspace.created', occurredAt: at(4) }),
    ]);
  });

  it('does nothing when the listing is older than, or as new as, our state', () => {
    const plan = planIncremental(
      {
        locations: [],
        workspaces: [
          // Older: our later deletion stands (a late listing can never resurrect it).
          listedWorkspace('ws-old', 'active', at(1)),
          // Same event as ours.
          listedWorkspace('ws-same', 'active', at(2)),
          listedWorkspace('ws-same-deleted', 'deleted', at(2)),
          // A created at the instant of our deletion orders before it.
          listedWorkspace('ws-tie', 'active', at(2)),
        ],
        asOf: at(5),
      },
      state([
        ourWorkspace('ws-old', 'deleted', at(2)),
        ourWorkspace('ws-same', 'active', at(2)),
        ourWorkspace('ws-same-deleted', 'deleted', at(2)),
        ourWorkspace('ws-tie', 'deleted', at(2)),
      ]),
    );
    expect(plan.repairs).toEqual([]);
  });

  it('orders a deletion after a creation at the same instant, as the handler does', () => {
    const plan = planIncremental(
      { locations: [], workspaces: [listedWorkspace('ws-1', 'deleted', at(2))], asOf: at(5) },
      state([ourWorkspace('ws-1', 'active', at(2))]),
    );
    expect(messages(plan)).toEqual([
      expect.objectContaining({ type: 'workspace.deleted', occurredAt: at(2) }),
    ]);
  });

  it('compares instants, not strings, and prefers the record order key', () => {
    const plan = planIncremental(
      {
        locations: [],
        workspaces: [
          // Same instant as ours, written with another precision.
          listedWorkspace('ws-1', 'active', '2026-11-22T10:02:00Z'),
          listedWorkspace('ws-2', 'deleted', at(3)),
        ],
        asOf: at(5),
      },
      state([
        ourWorkspace('ws-1', 'active', at(2)),
        { ...ourWorkspace('ws-2', 'active', at(1)), lastEventKey: eventKeyOf(at(3), true) },
      ]),
    );
    expect(plan.repairs).toEqual([]);
  });

  it('uses the latest state of a workspace the listing repeats', () => {
    const plan = planIncremental(
      {
        locations: [],
        workspaces: [
          listedWorkspace('ws-1', 'deleted', at(3)),
          listedWorkspace('ws-1', 'active', at(1)),
        ],
        asOf: at(5),
      },
      state(),
    );
    expect(messages(plan)).toEqual([
      expect.objectContaining({ type: 'workspace.deleted', id: `source:deleted:ws-1:${at(3)}` }),
    ]);
  });
});

describe('nextUpdatedSince', () => {
  it('starts the next incremental listing 60 s before the last asOf', () => {
    expect(nextUpdatedSince(at(10))).toBe(at(9));
    expect(nextUpdatedSince('2026-11-22T10:00:30Z', 0)).toBe('2026-11-22T10:00:30.000Z');
  });
});

describe('sourceEventId', () => {
  it('is deterministic, normalises the instant and fits the identifier rules', () => {
    expect(sourceEventId('created', ['ws-1'], '2026-11-22T10:00:00Z')).toBe(
      'source:created:ws-1:2026-11-22T10:00:00.000Z',
    );
    const long = 'w'.repeat(128);
    const id = sourceEventId('created', [long], at(0));
    expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(id).toBe(sourceEventId('created', [long], at(0)));
    expect(id).not.toBe(sourceEventId('created', [`${long.slice(1)}x`], at(0)));
    const longLocation = sourceEventId('location', ['b'.repeat(128), 'l'.repeat(128)], at(0));
    expect(longLocation).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  });

  it('keeps composite ids with colons apart', () => {
    const a = sourceEventId('location', ['a:b', 'c'], at(0));
    const b = sourceEventId('location', ['a', 'b:c'], at(0));
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  });

  it('gives valid messages for the longest identifiers', () => {
    const id = (c: string) => c.repeat(128);
    const plan = planIncremental(
      {
        locations: [{ ...listedLocation(1), businessId: id('b'), locationId: id('l') }],
        workspaces: [{ ...listedWorkspace(id('w'), 'active', at(0)), userId: id('u') }],
        asOf: at(5),
      },
      state(),
    );
    expect(plan.repairs).toHaveLength(2);
    expectValid(plan);
  });
});

describe('planFullSnapshot', () => {
  const snapshot = (
    workspaces: SourceWorkspace[],
    asOf: string,
    extra: Partial<FullSnapshot> = {},
  ): FullSnapshot => ({ locations: [], workspaces, asOf, complete: true, ...extra });

  it('repairs creations like an incremental listing', () => {
    const plan = planFullSnapshot(
      snapshot([listedWorkspace('ws-1', 'active', at(1))], at(5), {
        locations: [listedLocation(1)],
      }),
      state(),
      noMemory,
      settings,
    );
    expect(plan.counts).toMatchObject({ location_missing: 1, workspace_missing: 1 });
    expect(plan.deletions).toBe('applied');
    expectValid(plan);
  });

  it('records a workspace absent within the grace period, deleting nothing', () => {
    const fleet = liveFleet(20);
    const missing = fleet[0]!;
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(1)), at(0)),
      state(fleet),
      noMemory,
      settings,
    );
    expect(plan.repairs).toEqual([]);
    expect(plan.absence).toEqual(new Map([[missing.workspaceId, at(0)]]));
    expect(plan.waiting).toBe(1);

    // Still absent, 59 minutes later: the clock kept its start, still waiting.
    const later = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(1)), at(59)),
      state(fleet),
      { absentSince: plan.absence },
      settings,
    );
    expect(later.repairs).toEqual([]);
    expect(later.absence.get(missing.workspaceId)).toBe(at(0));
  });

  it('deletes a workspace absent beyond the grace period, dated at the snapshot asOf', () => {
    const fleet = liveFleet(20);
    const missing = fleet[0]!;
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(1)), at(60)),
      state(fleet),
      { absentSince: new Map([[missing.workspaceId, at(0)]]) },
      settings,
    );
    expect(plan.deletions).toBe('applied');
    expect(plan.repairs).toEqual([
      {
        drift: 'workspace_absent',
        message: {
          type: 'workspace.deleted',
          version: 1,
          id: `source:absent:${missing.workspaceId}:${at(60)}`,
          occurredAt: at(60),
          data: {
            workspaceId: missing.workspaceId,
            userId: missing.userId,
            businessId: 'biz-1',
            locationId: 'loc-1',
          },
        },
      },
    ]);
    expect(plan.counts.workspace_absent).toBe(1);
    expect(plan.waiting).toBe(0);
    expectValid(plan);
  });

  it('deletes at once with a zero grace period, pending placement included', () => {
    const fleet = [...liveFleet(19), ourWorkspace('ws-pending', 'pending_placement', at(-5))];
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(0, 19)), at(0)),
      state(fleet),
      noMemory,
      { ...settings, deleteGraceSeconds: 0 },
    );
    expect(messages(plan)).toEqual([
      expect.objectContaining({ type: 'workspace.deleted', occurredAt: at(0) }),
    ]);
  });

  it('forgets an absence once the workspace is listed again', () => {
    const fleet = liveFleet(10);
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet), at(90)),
      state(fleet),
      { absentSince: new Map([[fleet[0]!.workspaceId, at(0)]]) },
      settings,
    );
    expect(plan.repairs).toEqual([]);
    expect(plan.absence.size).toBe(0);
  });

  it('is not misled by a snapshot older than our last event', () => {
    // Created after the listing started: the snapshot could not list it.
    const fleet = [...liveFleet(19), ourWorkspace('ws-new', 'active', at(1))];
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(0, 19)), at(0)),
      state(fleet),
      noMemory,
      { ...settings, deleteGraceSeconds: 0 },
    );
    expect(plan.repairs).toEqual([]);
    expect(plan.absence.size).toBe(0);

    // Our last event at the very instant of asOf is not older than it either.
    const equal = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(0, 19)), at(1)),
      state(fleet),
      noMemory,
      { ...settings, deleteGraceSeconds: 0 },
    );
    expect(equal.repairs).toEqual([]);
  });

  it('restarts the grace period for a workspace that had an event after it was first missed', () => {
    const fleet = [...liveFleet(19), ourWorkspace('ws-1', 'active', at(30))];
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(0, 19)), at(90)),
      state(fleet),
      { absentSince: new Map([['ws-1', at(0)]]) },
      settings,
    );
    expect(plan.repairs).toEqual([]);
    expect(plan.absence.get('ws-1')).toBe(at(90));
  });

  it('ignores workspaces deleted here and drops their absence records', () => {
    const fleet = [...liveFleet(10), ourWorkspace('ws-gone', 'deleted', at(-5))];
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(0, 10)), at(90)),
      state(fleet),
      { absentSince: new Map([['ws-gone', at(0)]]) },
      settings,
    );
    expect(plan.repairs).toEqual([]);
    expect(plan.absence.size).toBe(0);
  });

  it('holds every deletion when there are more than maxDeletes', () => {
    const fleet = liveFleet(100);
    const absentSince = new Map(fleet.slice(0, 3).map((w) => [w.workspaceId, at(0)]));
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(3)), at(60)),
      state(fleet),
      { absentSince },
      { ...settings, maxDeletes: 2 },
    );
    expect(plan.deletions).toBe('held_max_deletes');
    expect(plan.repairs).toEqual([]);
    expect(plan.held.map((h) => h.workspaceId)).toEqual(
      fleet.slice(0, 3).map((w) => w.workspaceId),
    );
    expect(plan.held[0]).toEqual({
      workspaceId: fleet[0]!.workspaceId,
      userId: fleet[0]!.userId,
      businessId: 'biz-1',
      locationId: 'loc-1',
      absentSince: at(0),
      asOf: at(60),
    });
    // Their absence is kept, so that a later pass still knows them.
    expect(plan.absence.size).toBe(3);

    const atCap = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(2)), at(60)),
      state(fleet),
      { absentSince },
      { ...settings, maxDeletes: 2 },
    );
    expect(atCap.deletions).toBe('applied');
    expect(atCap.counts.workspace_absent).toBe(2);
  });

  it('holds every deletion when they are more than 10 % of the workspaces live here', () => {
    const fleet = liveFleet(100);
    const absentFor = (count: number) =>
      new Map(fleet.slice(0, count).map((w) => [w.workspaceId, at(0)]));
    const eleven = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(11)), at(60)),
      state(fleet),
      { absentSince: absentFor(11) },
      settings,
    );
    expect(eleven.deletions).toBe('held_max_share');
    expect(eleven.repairs).toEqual([]);
    expect(eleven.held).toHaveLength(11);

    const ten = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(10)), at(60)),
      state(fleet),
      { absentSince: absentFor(10) },
      settings,
    );
    expect(ten.deletions).toBe('applied');
    expect(ten.counts.workspace_absent).toBe(10);
  });

  it('never unmonitors the fleet on an empty snapshot from a broken source', () => {
    const fleet = liveFleet(50);
    const first = planFullSnapshot(snapshot([], at(0)), state(fleet), noMemory, settings);
    expect(first.repairs).toEqual([]);
    const second = planFullSnapshot(
      snapshot([], at(120)),
      state(fleet),
      { absentSince: first.absence },
      settings,
    );
    expect(second.repairs).toEqual([]);
    expect(second.held).toHaveLength(50);
  });

  it('keeps a held deletion held until released, even once the cap would allow it', () => {
    const fleet = liveFleet(100);
    const plan = planFullSnapshot(
      snapshot(listedFleet(fleet.slice(2)), at(120)),
      state(fleet),
      {
        absentSince: new Map(fleet.slice(0, 2).map((w) => [w.workspaceId, at(0)])),
        held: new Set([fleet[0]!.workspaceId, 'ws-reappeared']),
      },
      settings,
    );
    expect(plan.deletions).toBe('applied');
    expect(plan.stillHeld).toEqual([fleet[0]!.workspaceId]);
    expect(messages(plan)).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ workspaceId: fleet[1]!.workspaceId }),
      }),
    ]);
  });

  it('deletes nothing and changes no absence record on an incomplete snapshot', () => {
    const fleet = liveFleet(20);
    const absentSince = new Map([
      [fleet[0]!.workspaceId, at(0)],
      [fleet[1]!.workspaceId, at(0)],
    ]);
    const plan = planFullSnapshot(
      snapshot([listedWorkspace('ws-new', 'active', at(100))], at(120), { complete: false }),
      state(fleet),
      { absentSince, held: new Set(['ws-held']) },
      { ...settings, deleteGraceSeconds: 0 },
    );
    expect(plan.deletions).toBe('skipped_incomplete');
    // What it does list is still a fact: the creation is repaired.
    expect(messages(plan)).toEqual([expect.objectContaining({ type: 'workspace.created' })]);
    expect(plan.absence).toEqual(absentSince);
    expect(plan.held).toEqual([]);
    expect(plan.stillHeld).toEqual(['ws-held']);
  });

  it('gives a released held deletion the message it would have sent', () => {
    const message = heldDeletionMessage({
      workspaceId: 'ws-1',
      userId: 'u-1',
      businessId: 'biz-1',
      locationId: 'loc-1',
      absentSince: at(0),
      asOf: at(60),
    });
    expect(message).toMatchObject({
      type: 'workspace.deleted',
      id: `source:absent:ws-1:${at(60)}`,
      occurredAt: at(60),
    });
    expect(parseMessage(JSON.stringify(message)).ok).toBe(true);
  });
});

describe('loadOurState', () => {
  function fakeReader(workspaces: OurWorkspace[], locations: string[]) {
    const calls: string[] = [];
    const reader: SourceSyncStateReader = {
      async knownLocations(refs) {
        calls.push(`locations:${refs.length}`);
        return new Set(refs.map(locationKey).filter((k) => locations.includes(k)));
      },
      async getWorkspaces(ids) {
        calls.push(`workspaces:${ids.length}`);
        return new Map(
          workspaces.filter((w) => ids.includes(w.workspaceId)).map((w) => [w.workspaceId, w]),
        );
      },
      async listLiveWorkspaces() {
        calls.push('live');
        return workspaces.filter((w) => w.status !== 'deleted');
      },
    };
    return { reader, calls };
  }

  it('reads only what the listing names, plus the live workspaces for a full snapshot', async () => {
    const ours = [
      ourWorkspace('ws-1', 'active', at(0)),
      ourWorkspace('ws-2', 'deleted', at(0)),
      ourWorkspace('ws-3', 'active', at(0)),
    ];
    const listing = {
      locations: [listedLocation(1), listedLocation(1), listedLocation(2)],
      workspaces: [
        listedWorkspace('ws-1', 'active', at(0)),
        listedWorkspace('ws-2', 'active', at(0)),
      ],
      asOf: at(5),
    };
    const incremental = fakeReader(ours, ['biz-1#loc-1']);
    const partial = await loadOurState(listing, incremental.reader, { full: false });
    expect(incremental.calls.sort()).toEqual(['locations:2', 'workspaces:2']);
    expect([...partial.locations]).toEqual(['biz-1#loc-1']);
    expect([...partial.workspaces.keys()].sort()).toEqual(['ws-1', 'ws-2']);

    const full = fakeReader(ours, []);
    const whole = await loadOurState(listing, full.reader, { full: true });
    expect(full.calls).toContain('live');
    expect([...whole.workspaces.keys()].sort()).toEqual(['ws-1', 'ws-2', 'ws-3']);
  });

  it('asks nothing for an empty incremental listing', async () => {
    const { reader, calls } = fakeReader([], []);
    const empty = await loadOurState({ locations: [], workspaces: [], asOf: at(0) }, reader, {
      full: false,
    });
    expect(calls).toEqual([]);
    expect(empty.workspaces.size).toBe(0);
  });
});
