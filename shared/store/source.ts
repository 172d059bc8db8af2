// Source reconciliation's records (the SOURCE partition) and its read-only view of our state.
import { createHash } from 'node:crypto';
import { BatchWriteItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mapSettled } from '../domain/pool.ts';
import type {
  LocationRef,
  SourceStateStore,
  SourceSyncState,
  SourceSyncSummary,
} from '../domain/ports.ts';
import type { WorkspaceRecord } from '../domain/records.ts';
import { backoffMs, sleep } from '../domain/retry.ts';
import {
  type AbsenceMemory,
  type HeldDeletion,
  locationKey,
  type OurWorkspace,
  type SourceSyncStateReader,
} from '../domain/source-sync.ts';
import {
  expiresAt,
  INDEXES,
  type ItemKey,
  keys,
  LIVE_BUCKETS,
  liveBucketQuery,
  sourcePartition,
  TTL_ATTRIBUTE,
  TTL_SECONDS,
} from './schema.ts';
import { type Table, toAttributes } from './table.ts';

/**
 * Absent workspaces live in this many items, grouped by the instant they were first missed
 * (one list of ids per instant), so a snapshot reads them all in one BatchGetItem and even a
 * fleet-wide absence (a broken source) stays far below the item size limit.
 */
const ABSENCE_CHUNKS = 32;
const chunkOf = (workspaceId: string) =>
  createHash('sha256').update(workspaceId).digest().readUInt16BE(0) % ABSENCE_CHUNKS;
/** BatchGetItem's limit. */
const BATCH_GET_KEYS = 100;
/** BatchWriteItem's limit. */
const BATCH_WRITE_ITEMS = 25;
const PARALLEL_REQUESTS = 8;
const WRITE_ATTEMPTS = 8;

type AbsenceChunk = { chunk?: number; absent?: Record<string, string[]> };

/** Source-sync state: last summary and cursor, history, absence memory, held deletions. */
export class SourceStore implements SourceStateStore {
  constructor(private readonly table: Table) {}

  async get(): Promise<SourceSyncState> {
    const last = await this.last();
    return {
      runCount: last?.runCount ?? 0,
      ...(last?.asOf ? { asOf: last.asOf } : {}),
      ...(last?.cursor ? { cursor: last.cursor } : {}),
      ...(last?.lastSuccessAt ? { lastSuccessAt: last.lastSuccessAt } : {}),
    };
  }

  /** The last summary as written (for operators). */
  last() {
    return this.table.get<SourceSyncSummary & { lastSuccessAt?: string }>(keys.sourceLast());
  }

  /** Summaries of recent runs (kept a week), oldest first. */
  history() {
    return this.table.queryPrefix<SourceSyncSummary>(sourcePartition.pk, '#');
  }

  async writeSummary(summary: SourceSyncSummary) {
    const ok = summary.errors.length === 0;
    const finished = new Date(summary.finishedAt);
    const remove = [
      ...(summary.cursor ? [] : ['cursor']),
      ...(summary.deletions ? [] : ['deletions']),
    ];
    await Promise.all([
      // asOf only moves forward with a complete listing: an absent one keeps the previous.
      this.table.update(keys.sourceLast(), {
        set: { type: 'source', ...summary, ...(ok ? { lastSuccessAt: summary.finishedAt } : {}) },
        remove,
      }),
      this.table.put({
        ...keys.sourceHistory(summary.startedAt),
        type: 'source',
        ...summary,
        [TTL_ATTRIBUTE]: expiresAt(finished, TTL_SECONDS.sourceHistory),
      }),
    ]);
  }

  async loadAbsence(): Promise<AbsenceMemory> {
    const chunkKeys = Array.from({ length: ABSENCE_CHUNKS }, (_, i) => keys.sourceAbsenceChunk(i));
    const [chunks, held] = await Promise.all([
      this.table.batchGet<AbsenceChunk>(chunkKeys),
      this.#heldItems(),
    ]);
    const absentSince = new Map<string, string>();
    for (const chunk of chunks)
      for (const [since, ids] of Object.entries(chunk.absent ?? {}))
        for (const id of ids) absentSince.set(id, since);
    return { absentSince, held: new Set(held.map((h) => h.workspaceId)) };
  }

  async saveAbsence(absence: ReadonlyMap<string, string>, previous: ReadonlyMap<string, string>) {
    const changed = new Set<number>();
    for (const [id, since] of absence) if (previous.get(id) !== since) changed.add(chunkOf(id));
    for (const id of previous.keys()) if (!absence.has(id)) changed.add(chunkOf(id));
    if (changed.size === 0) return;
    const chunks = new Map<number, Record<string, string[]>>([...changed].map((c) => [c, {}]));
    for (const [id, since] of absence) {
      const chunk = chunks.get(chunkOf(id));
      if (!chunk) continue;
      const ids = chunk[since] ?? [];
      ids.push(id);
      chunk[since] = ids;
    }
    await Promise.all(
      [...chunks].map(([chunk, absent]) =>
        this.table.put({
          ...keys.sourceAbsenceChunk(chunk),
          type: 'source-absence',
          chunk,
          absent,
        }),
      ),
    );
  }

  async hold(deletions: readonly HeldDeletion[]) {
    const now = this.table.now();
    await this.#batchWrite(
      deletions.map((d) => ({
        PutRequest: {
          Item: toAttributes({
            ...keys.sourceHeld(d.workspaceId),
            type: 'source-held',
            ...d,
            heldAt: now,
            version: 1,
            createdAt: now,
            updatedAt: now,
          }),
        },
      })),
    );
  }

  async listHeld(): Promise<HeldDeletion[]> {
    return (await this.#heldItems()).map(
      ({ workspaceId, userId, businessId, locationId, absentSince, asOf }) => ({
        workspaceId,
        userId,
        businessId,
        locationId,
        absentSince,
        asOf,
      }),
    );
  }

  async release(workspaceIds: readonly string[]) {
    await this.#batchWrite(
      workspaceIds.map((id) => ({ DeleteRequest: { Key: toAttributes(keys.sourceHeld(id)) } })),
    );
  }

  #heldItems() {
    return this.table.queryPrefix<HeldDeletion>(sourcePartition.pk, sourcePartition.held);
  }

  /** Puts and deletes in batches of 25, retrying unprocessed items with backoff. */
  async #batchWrite(requests: readonly WriteRequest[]) {
    const batches: WriteRequest[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_ITEMS)
      batches.push(requests.slice(i, i + BATCH_WRITE_ITEMS));
    const outcomes = await mapSettled(batches, PARALLEL_REQUESTS, async (batch) => {
      let pending = batch;
      for (let attempt = 1; pending.length; attempt++) {
        if (attempt > WRITE_ATTEMPTS)
          throw new Error(`${pending.length} SOURCE writes still unprocessed`);
        if (attempt > 1) await sleep(backoffMs(attempt - 1, 50, 2_000));
        const out = await this.table.db.send(
          new BatchWriteItemCommand({ RequestItems: { [this.table.name]: pending } }),
        );
        pending = out.UnprocessedItems?.[this.table.name] ?? [];
      }
    });
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/**
 * What a source listing is compared with: locations and workspaces by key (batched reads),
 * and for full snapshots every live workspace through the sparse `live` index (no scan).
 */
export class SourceStateReader implements SourceSyncStateReader {
  constructor(private readonly table: Table) {}

  async knownLocations(refs: readonly LocationRef[]) {
    const items = await this.#batchGet<{ businessId: string; locationId: string; status?: string }>(
      refs.map((ref) => keys.location(ref.businessId, ref.locationId)),
    );
    // An item without status is only a workspace's note that it waits for the location: the
    // location's shard.create never came.
    return new Set(items.filter((item) => item.status).map(locationKey));
  }

  async getWorkspaces(ids: readonly string[]) {
    const items = await this.#batchGet<WorkspaceRecord>(ids.map(keys.workspace));
    return new Map(items.map((w) => [w.workspaceId, ourView(w)]));
  }

  async listLiveWorkspaces() {
    const buckets = Array.from({ length: LIVE_BUCKETS }, (_, i) => i);
    const pages = await mapSettled(buckets, LIVE_BUCKETS, (bucket) =>
      this.table.query<WorkspaceRecord>({
        ...liveBucketQuery(bucket),
        ProjectionExpression: INDEXES.live.projection.map((_, i) => `#p${i}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(
          INDEXES.live.projection.map((name, i) => [`#p${i}`, name]),
        ),
      }),
    );
    const live: OurWorkspace[] = [];
    for (const page of pages) {
      if (page.status === 'rejected') throw page.reason;
      // The index is eventually consistent: a just-deleted workspace may linger a moment.
      for (const w of page.value) if (w.status !== 'deleted') live.push(ourView(w));
    }
    return live;
  }

  async #batchGet<T>(all: readonly ItemKey[]): Promise<T[]> {
    const chunks: ItemKey[][] = [];
    for (let i = 0; i < all.length; i += BATCH_GET_KEYS)
      chunks.push(all.slice(i, i + BATCH_GET_KEYS));
    const outcomes = await mapSettled(chunks, PARALLEL_REQUESTS, (chunk) =>
      this.table.batchGet<T>(chunk),
    );
    return outcomes.flatMap((o) => {
      if (o.status === 'rejected') throw o.reason;
      return o.value;
    });
  }
}

function ourView(w: WorkspaceRecord): OurWorkspace {
  return {
    workspaceId: w.workspaceId,
    userId: w.userId,
    businessId: w.businessId,
    locationId: w.locationId,
    status: w.status,
    lastEventAt: w.lastEventAt,
    ...(w.lastEventKey ? { lastEventKey: w.lastEventKey } : {}),
  };
}
