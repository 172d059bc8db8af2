import { describe, expect, it } from 'vitest';
import type { SourceLocation, SourceWorkspace } from '../../../shared/contracts/source.ts';
import type {
  SourceStateStore,
  SourceSyncState,
  SourceSyncSummary,
} from '../../../shared/domain/ports.ts';
import type { HeldDeletion, OurWorkspace } from '../../../shared/domain/source-sync.ts';
import {
  type ListRequest,
  runSourceSync,
  type SourceSyncSettings,
} from '../../../shared/domain/source-sync-run.ts';

const T0 = '2026-11-22T10:00:00.000Z';

/** An in-memory store, listing and reader; every listing request is recorded. */
function fakes(options: {
  locations?: SourceLocation[];
  workspaces?: SourceWorkspace[];
  ours?: OurWorkspace[];
  /** Items per page; a listing stops after `stopAfterPages` pages when shouldStop says so. */
  pageSize?: number;
  fail?: boolean;
}) {
  let state: SourceSyncState = { runCount: 0 };
  const summaries: SourceSyncSummary[] = [];
  let absence = new Map<string, string>();
  const held = new Map<string, HeldDeletion>();
  const requests: Array<{ kind: string } & ListRequest> = [];
  const store: SourceStateStore = {
    get: async () => state,
    async writeSummary(summary) {
      summaries.push(summary);
      state = {
        runCount: summary.runCount,
        ...(summary.asOf ? { asOf: summary.asOf } : state.asOf ? { asOf: state.asOf } : {}),
        ...(summary.cursor ? { cursor: summary.cursor } : {}),
      };
    },
    loadAbsence: async () => ({ absentSince: new Map(absence), held: new Set(held.keys()) }),
    async saveAbsence(next) {
      absence = new Map(next);
    },
    async hold(deletions) {
      for (const d of deletions) held.set(d.workspaceId, d);
    },
    listHeld: async () => [...held.values()],
    async release(ids) {
      for (const id of ids) held.delete(id);
    },
  };
  const page = <T extends { updatedAt: string }>(
    kind: string,
    items: T[],
    request: ListRequest,
  ) => {
    requests.push({ kind, ...request });
    if (options.fail) throw new Error('source down');
    const since = request.updatedSince ? Date.parse(request.updatedSince) : undefined;
    const all = items.filter((i) => since === undefined || Date.parse(i.updatedAt) >= since);
    const size = options.pageSize ?? 1000;
    let start = request.cursor ? Number(request.cursor) : 0;
    const out: T[] = [];
    do {
      out.push(...all.slice(start, start + size));
      start += size;
    } while (start < all.length && !request.shouldStop?.());
    const complete = start >= all.length;
    return {
      items: out,
      asOf: request.asOf ?? T0,
      complete,
      ...(complete ? {} : { nextCursor: String(start) }),
    };
  };
  const sent: string[][] = [];
  let remaining = 900_000;
  const ports = {
    state: store,
    reader: {
      knownLocations: async () => new Set<string>(),
      getWorkspaces: async (ids: readonly string[]) =>
        new Map(
          (options.ours ?? [])
            .filter((w) => ids.includes(w.workspaceId))
            .map((w) => [w.workspaceId, w]),
        ),
      listLiveWorkspaces: async () => (options.ours ?? []).filter((w) => w.status !== 'deleted'),
    },
    source: {
      listLocations: async (r: ListRequest) => page('locations', options.locations ?? [], r),
      listWorkspaces: async (r: ListRequest) => page('workspaces', options.workspaces ?? [], r),
    },
    send: async (messages: readonly { id: string }[]) => {
      sent.push(messages.map((m) => m.id));
      return [] as string[];
    },
    remainingMs: () => remaining,
  };
  return {
    ports,
    requests,
    sent,
    summaries,
    held,
    setRemaining: (ms: number) => {
      remaining = ms;
    },
  };
}

const settings: SourceSyncSettings = {
  fullSyncEvery: 3,
  deleteGraceSeconds: 0,
  maxDeletes: 100,
  reserveMs: 1000,
};
const listedWorkspace = (id: string, status: 'active' | 'deleted' = 'active'): SourceWorkspace => ({
  workspaceId: id,
  userId: 'u',
  businessId: 'b',
  locationId: 'l',
  status,
  updatedAt: '2026-11-22T09:00:00.000Z',
});
const ours = (id: string): OurWorkspace => ({
  workspaceId: id,
  userId: 'u',
  businessId: 'b',
  locationId: 'l',
  status: 'active',
  lastEventAt: '2026-11-22T08:00:00.000Z',
});

describe('runSourceSync', () => {
  it('starts with every change the source keeps plus a full snapshot, then lists from asOf minus 60 s', async () => {
    const f = fakes({ workspaces: [listedWorkspace('ws-1')] });
    const first = await runSourceSync(f.ports, settings);
    expect(first).toMatchObject({ runCount: 1, full: true, complete: true, asOf: T0 });
    expect(f.requests.map((r) => [r.kind, r.updatedSince])).toEqual([
      ['locations', '1970-01-01T00:00:00.000Z'],
      ['workspaces', '1970-01-01T00:00:00.000Z'],
      ['locations', undefined],
      ['workspaces', undefined],
    ]);
    // The same drift seen by both listings is sent once.
    expect(f.sent).toEqual([['source:created:ws-1:2026-11-22T09:00:00.000Z']]);
    f.requests.length = 0;
    const second = await runSourceSync(f.ports, settings);
    expect(second.full).toBe(false);
    expect(f.requests.map((r) => r.updatedSince)).toEqual([
      '2026-11-22T09:59:00.000Z',
      '2026-11-22T09:59:00.000Z',
    ]);
  });

  it('deletes nothing and keeps asOf when a listing fails', async () => {
    const f = fakes({ ours: [ours('ws-1')], fail: true });
    const summary = await runSourceSync(f.ports, settings);
    expect(summary.errors).toEqual([
      expect.stringMatching(/listing changed locations: source down/),
    ]);
    expect(summary.asOf).toBeUndefined();
    expect(summary.counts.workspace_absent).toBe(0);
    expect(f.sent).toEqual([]);
  });

  it('stops listing when time runs short and resumes at the cursor, inferring no absence', async () => {
    const workspaces = Array.from({ length: 30 }, (_, i) => listedWorkspace(`ws-${i}`));
    const f = fakes({ workspaces, ours: [ours('ws-gone')], pageSize: 10 });
    f.setRemaining(500);
    const stopped = await runSourceSync(f.ports, settings);
    expect(stopped).toMatchObject({
      complete: false,
      cursor: { full: true, listing: 'workspaces', cursor: '10' },
    });
    expect(stopped.cursor?.snapshot).toBeUndefined();
    expect(stopped.asOf).toBeUndefined();
    expect(stopped.deletions).toBeUndefined();
    expect(f.sent.flat()).toHaveLength(10);
    f.setRemaining(900_000);
    const resumed = await runSourceSync(f.ports, settings);
    expect(resumed.cursor).toBeUndefined();
    expect(f.requests.slice(-3).map((r) => [r.kind, r.cursor, r.updatedSince])).toEqual([
      ['workspaces', '10', '1970-01-01T00:00:00.000Z'],
      ['locations', undefined, undefined],
      ['workspaces', undefined, undefined],
    ]);
    // The full listing of the resumed run is whole: ws-gone is absent and, with no grace, due;
    // 1 of 1 live is above 10 %, so it is held, not deleted.
    expect(resumed).toMatchObject({ complete: true, deletions: 'held_max_share', held: 1 });
    expect([...f.held.keys()]).toEqual(['ws-gone']);
  });
});
