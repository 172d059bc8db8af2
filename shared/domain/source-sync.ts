// Source reconciliation, the pure part: compare the management server's listing with our state
// and decide which events were lost. Repairs are ordinary messages sent to the ordinary queues,
// so their handlers apply every rule (ordering, tombstones, placement) exactly as for the
// management server's own events; nothing here writes state.
import { createHash } from 'node:crypto';
import type {
  ShardCreateMessage,
  WorkspaceDeletedMessage,
  WorkspaceMessage,
} from '../contracts/messages.ts';
import type { SourceLocation, SourceWorkspace } from '../contracts/source.ts';
import type { LocationRef } from './ports.ts';
import { eventKeyOf } from './workspace-lifecycle.ts';

export type RepairEvent = ShardCreateMessage | WorkspaceMessage;

/** Why a repair event was planned: the summary counts them by kind. */
export type DriftKind =
  /** A location the source lists and we have never seen: its shard.create was lost. */
  | 'location_missing'
  /** A workspace the source lists and we have no record of. */
  | 'workspace_missing'
  /** A workspace whose latest event at the source is newer than the latest one we applied. */
  | 'workspace_behind'
  /** A workspace live here that complete snapshots stopped listing, past the grace period. */
  | 'workspace_absent';

export type DriftCounts = Record<DriftKind, number>;

export interface PlannedRepair {
  drift: DriftKind;
  message: RepairEvent;
}

export interface SyncPlan {
  repairs: PlannedRepair[];
  counts: DriftCounts;
}

/** Our view of one workspace: what its record says about the last event applied to it. */
export interface OurWorkspace {
  workspaceId: string;
  userId: string;
  businessId: string;
  locationId: string;
  status: 'pending_placement' | 'active' | 'deleted';
  lastEventAt: string;
  /** The record's total order key when it has one; otherwise derived from lastEventAt and status. */
  lastEventKey?: string;
}

export interface OurState {
  /** Locations known here, whatever their status, as `locationKey()`s. */
  locations: ReadonlySet<string>;
  /**
   * Our records (tombstones included) of the listed workspaces we know. For a full snapshot it
   * must also hold every workspace live here (active or pending placement), listed or not:
   * absence is decided from it.
   */
  workspaces: ReadonlyMap<string, OurWorkspace>;
}

export interface SourceListing {
  locations: readonly SourceLocation[];
  workspaces: readonly SourceWorkspace[];
  /** The source's clock when the listing started. */
  asOf: string;
}

export interface FullSnapshot extends SourceListing {
  /** Both listings were read to their last page. Absence means nothing otherwise. */
  complete: boolean;
}

export interface DeletionSettings {
  /** How long a workspace must be missing from complete snapshots before it is deleted. */
  deleteGraceSeconds: number;
  /** More deletions than this in one pass: none is made, all are held. */
  maxDeletes: number;
  /** Share of the workspaces live here above which a pass's deletions are all held. */
  maxDeleteShare?: number;
}

/** Above a tenth of the fleet, an absence is far likelier a broken source than real deletions. */
export const DEFAULT_MAX_DELETE_SHARE = 0.1;

/** A deletion the safety cap withheld: sent only when the operator releases it. */
export interface HeldDeletion {
  workspaceId: string;
  userId: string;
  businessId: string;
  locationId: string;
  /** asOf of the first complete snapshot the workspace was missing from. */
  absentSince: string;
  /** asOf of the snapshot that found the deletion due: the deletion's occurredAt. */
  asOf: string;
}

export type DeletionOutcome =
  /** Due deletions (possibly none) are in the plan. */
  | 'applied'
  /** The snapshot was incomplete: no absence inferred, nothing deleted, records kept as they were. */
  | 'skipped_incomplete'
  /** Too many new deletions by count: all of them held. */
  | 'held_max_deletes'
  /** Too many new deletions as a share of the workspaces live here: all of them held. */
  | 'held_max_share';

export interface FullSnapshotPlan extends SyncPlan {
  deletions: DeletionOutcome;
  /**
   * Workspaces live here that complete snapshots no longer list, with when each was first
   * missed. Replaces the previous set (what is not in it is no longer absent).
   */
  absence: Map<string, string>;
  /** Absent, but still within the grace period. */
  waiting: number;
  /** Due deletions newly withheld by the safety cap this pass (none of them is in the plan). */
  held: HeldDeletion[];
  /**
   * Previously held deletions that are still due, left held. Held ones missing from it are
   * no longer due (the workspace reappeared, changed, or was deleted here): release them.
   */
  stillHeld: string[];
}

/** How far back the next incremental listing starts before the last one's asOf. */
export const INCREMENTAL_OVERLAP_SECONDS = 60;

/**
 * Where the next incremental listing starts: a little before the last listing's asOf, so that
 * an item committed with a timestamp slightly older than the source's clock is not skipped.
 * Repeats caused by the overlap are harmless (deterministic ids, ordered events).
 */
export function nextUpdatedSince(
  asOf: string,
  overlapSeconds = INCREMENTAL_OVERLAP_SECONDS,
): string {
  return new Date(Date.parse(asOf) - overlapSeconds * 1000).toISOString();
}

/** Key of a location in `OurState.locations`; `#` cannot occur in identifiers. */
export const locationKey = (ref: LocationRef) => `${ref.businessId}#${ref.locationId}`;

const MAX_ID_LENGTH = 128;

/**
 * Deterministic event id `source:<kind>:<id>:<time>`, so the same drift found twice yields the
 * same id. Ids must stay 1..128 of `[A-Za-z0-9._:-]`: a composite id whose parts contain `:`
 * would be ambiguous, and a long one would not fit, so those are replaced by a digest.
 */
export function sourceEventId(kind: string, parts: readonly string[], at: string): string {
  const time = new Date(at).toISOString();
  const ambiguous = parts.length > 1 && parts.some((part) => part.includes(':'));
  const readable = `source:${kind}:${parts.join(':')}:${time}`;
  if (!ambiguous && readable.length <= MAX_ID_LENGTH) return readable;
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40);
  return `source:${kind}:sha256-${digest}:${time}`;
}

/**
 * Every run's repairs, from an incremental listing (or the positive half of a full one): a
 * location unknown here gets its shard.create; a workspace whose listed state is newer than
 * the last event we applied gets the created or deleted event that state implies, dated at
 * its updatedAt so it orders correctly against the real events. Equal or older: nothing.
 */
export function planIncremental(listing: SourceListing, ours: OurState): SyncPlan {
  const plan = emptyPlan();
  const seenLocations = new Set<string>();
  for (const location of listing.locations) {
    const key = locationKey(location);
    if (ours.locations.has(key) || seenLocations.has(key)) continue;
    seenLocations.add(key);
    add(plan, 'location_missing', shardCreate(location));
  }
  for (const listed of latestPerWorkspace(listing.workspaces).values()) {
    const current = ours.workspaces.get(listed.workspaceId);
    const listedKey = eventKeyOf(listed.updatedAt, listed.status === 'deleted');
    if (current && listedKey <= orderKeyOf(current)) continue;
    add(plan, current ? 'workspace_behind' : 'workspace_missing', workspaceEvent(listed));
  }
  return plan;
}

/** What earlier full snapshots left behind, kept by the store between runs. */
export interface AbsenceMemory {
  /** workspaceId -> asOf of the first complete snapshot it was missing from. */
  absentSince: ReadonlyMap<string, string>;
  /** Deletions the safety cap withheld and the operator has not released. */
  held?: ReadonlySet<string>;
}

/**
 * A full snapshot's repairs: those of `planIncremental`, plus deletions inferred from absence.
 * A workspace live here, missing from a complete snapshot and whose last event is older than
 * the snapshot's asOf, is absent; once absent for the grace period its workspace.deleted is
 * planned, dated at asOf. A pass whose new due deletions exceed the count or share cap deletes
 * none of them and holds them all; a held deletion stays held (never sent by a later pass)
 * until the operator releases it or the workspace reappears. An incomplete snapshot infers
 * no absence at all.
 */
export function planFullSnapshot(
  snapshot: FullSnapshot,
  ours: OurState,
  memory: AbsenceMemory,
  settings: DeletionSettings,
): FullSnapshotPlan {
  const positive = planIncremental(snapshot, ours);
  if (!snapshot.complete) {
    return {
      ...positive,
      deletions: 'skipped_incomplete',
      absence: new Map(memory.absentSince),
      waiting: 0,
      held: [],
      stillHeld: [...(memory.held ?? [])],
    };
  }
  const listed = new Set(snapshot.workspaces.map((w) => w.workspaceId));
  const asOfMs = Date.parse(snapshot.asOf);
  const graceMs = settings.deleteGraceSeconds * 1000;
  const absence = new Map<string, string>();
  const due: HeldDeletion[] = [];
  const stillHeld: HeldDeletion[] = [];
  let live = 0;
  for (const workspace of ours.workspaces.values()) {
    if (workspace.status === 'deleted') continue;
    live++;
    if (listed.has(workspace.workspaceId)) continue;
    const lastEventMs = Date.parse(workspace.lastEventAt);
    // Created (or changed) after the listing started: the snapshot may simply predate it.
    if (!(lastEventMs < asOfMs)) continue;
    const previous = memory.absentSince.get(workspace.workspaceId);
    // An event applied since it was first missed restarts the clock: it was alive then.
    const since =
      previous !== undefined && lastEventMs < Date.parse(previous) ? previous : snapshot.asOf;
    absence.set(workspace.workspaceId, since);
    if (asOfMs - Date.parse(since) < graceMs) continue;
    const deletion = {
      workspaceId: workspace.workspaceId,
      userId: workspace.userId,
      businessId: workspace.businessId,
      locationId: workspace.locationId,
      absentSince: since,
      asOf: snapshot.asOf,
    };
    (memory.held?.has(workspace.workspaceId) ? stillHeld : due).push(deletion);
  }
  const share = settings.maxDeleteShare ?? DEFAULT_MAX_DELETE_SHARE;
  const deletions: DeletionOutcome =
    due.length > settings.maxDeletes
      ? 'held_max_deletes'
      : due.length > share * live
        ? 'held_max_share'
        : 'applied';
  const plan: FullSnapshotPlan = {
    ...positive,
    deletions,
    absence,
    waiting: absence.size - due.length - stillHeld.length,
    held: deletions === 'applied' ? [] : due,
    stillHeld: stillHeld.map((h) => h.workspaceId),
  };
  if (deletions === 'applied') {
    for (const deletion of due) add(plan, 'workspace_absent', heldDeletionMessage(deletion));
  }
  return plan;
}

/** The workspace.deleted of a deletion inferred from absence (also: a held one, once released). */
export function heldDeletionMessage(deletion: HeldDeletion): WorkspaceDeletedMessage {
  const occurredAt = new Date(deletion.asOf).toISOString();
  return {
    type: 'workspace.deleted',
    version: 1,
    id: sourceEventId('absent', [deletion.workspaceId], occurredAt),
    occurredAt,
    data: {
      workspaceId: deletion.workspaceId,
      userId: deletion.userId,
      businessId: deletion.businessId,
      locationId: deletion.locationId,
    },
  };
}

/** What the source-sync function reads from our state to build `OurState`. */
export interface SourceSyncStateReader {
  /** Which of these locations are known here (any status), as `locationKey()`s. */
  knownLocations(refs: readonly LocationRef[]): Promise<Set<string>>;
  /** Our records of these workspaces, tombstones included; unknown ids are left out. */
  getWorkspaces(ids: readonly string[]): Promise<Map<string, OurWorkspace>>;
  /** Every workspace live here (active or pending placement); full snapshots only. */
  listLiveWorkspaces(): Promise<OurWorkspace[]>;
}

/** Reads the part of our state a listing is compared with (live workspaces too when full). */
export async function loadOurState(
  listing: SourceListing,
  reader: SourceSyncStateReader,
  options: { full: boolean },
): Promise<OurState> {
  const refs = uniqueBy(listing.locations, locationKey).map(({ businessId, locationId }) => ({
    businessId,
    locationId,
  }));
  const ids = [...new Set(listing.workspaces.map((w) => w.workspaceId))];
  // A full snapshot lists nearly every workspace that is live here: read those from the live
  // set and fetch by id only the rest (new here, or tombstones), not the whole fleet again.
  const liveRead = options.full ? reader.listLiveWorkspaces() : Promise.resolve([]);
  const [locations, workspaces] = await Promise.all([
    refs.length > 0 ? reader.knownLocations(refs) : new Set<string>(),
    liveRead.then(async (live) => {
      const known = new Map(live.map((w) => [w.workspaceId, w]));
      const rest = ids.filter((id) => !known.has(id));
      if (rest.length > 0) for (const [id, w] of await reader.getWorkspaces(rest)) known.set(id, w);
      return known;
    }),
  ]);
  return { locations, workspaces };
}

function orderKeyOf(workspace: OurWorkspace): string {
  return (
    workspace.lastEventKey ?? eventKeyOf(workspace.lastEventAt, workspace.status === 'deleted')
  );
}

/** A listing may repeat a workspace that changed while it was read: keep its latest state. */
function latestPerWorkspace(workspaces: readonly SourceWorkspace[]): Map<string, SourceWorkspace> {
  const latest = new Map<string, { item: SourceWorkspace; key: string }>();
  for (const item of workspaces) {
    const key = eventKeyOf(item.updatedAt, item.status === 'deleted');
    const known = latest.get(item.workspaceId);
    if (!known || key > known.key) latest.set(item.workspaceId, { item, key });
  }
  return new Map([...latest].map(([id, { item }]) => [id, item]));
}

function shardCreate(location: SourceLocation): ShardCreateMessage {
  const occurredAt = new Date(location.updatedAt).toISOString();
  return {
    type: 'shard.create',
    version: 1,
    id: sourceEventId('location', [location.businessId, location.locationId], occurredAt),
    occurredAt,
    data: {
      businessId: location.businessId,
      locationId: location.locationId,
      businessType: location.businessType,
    },
  };
}

function workspaceEvent(workspace: SourceWorkspace): WorkspaceMessage {
  const deleted = workspace.status === 'deleted';
  const occurredAt = new Date(workspace.updatedAt).toISOString();
  return {
    type: deleted ? 'workspace.deleted' : 'workspace.created',
    version: 1,
    id: sourceEventId(deleted ? 'deleted' : 'created', [workspace.workspaceId], occurredAt),
    occurredAt,
    data: {
      workspaceId: workspace.workspaceId,
      userId: workspace.userId,
      businessId: workspace.businessId,
      locationId: workspace.locationId,
    },
  };
}

function emptyPlan(): SyncPlan {
  return {
    repairs: [],
    counts: {
      location_missing: 0,
      workspace_missing: 0,
      workspace_behind: 0,
      workspace_absent: 0,
    },
  };
}

function add(plan: SyncPlan, drift: DriftKind, message: RepairEvent): void {
  plan.repairs.push({ drift, message });
  plan.counts[drift]++;
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}
