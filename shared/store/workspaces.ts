import type {
  LocationRef,
  WorkspaceChange,
  WorkspaceStore,
  WorkspaceWrite,
} from '../domain/ports.ts';
import type { WorkspaceRecord } from '../domain/records.ts';
import {
  BY_LOCATION_ATTRIBUTES,
  byLocationEntry,
  expiresAt,
  INDEXES,
  keys,
  LIVE_ATTRIBUTES,
  liveEntry,
  TTL_ATTRIBUTE,
  TTL_SECONDS,
  WORK,
  WORK_ATTRIBUTES,
  workDueQuery,
  workEntry,
} from './schema.ts';
import type { Table, UpdateSpec } from './table.ts';

/** A pending workspace is in both indexes; placed or deleted, in neither. */
const PLACEMENT = [...BY_LOCATION_ATTRIBUTES, ...WORK_ATTRIBUTES];

/** Workspaces: their newest event (ordering, tombstones) and their placement on a shard. */
export class Workspaces implements WorkspaceStore {
  constructor(private readonly table: Table) {}

  get(workspaceId: string) {
    return this.table.get<WorkspaceRecord>(keys.workspace(workspaceId));
  }

  async recordEvent(event: WorkspaceChange, shardId: string | undefined): Promise<WorkspaceWrite> {
    const identity = {
      type: 'workspace',
      workspaceId: event.workspaceId,
      userId: event.userId,
      businessId: event.businessId,
      locationId: event.locationId,
      lastEventAt: event.occurredAt,
      lastEventKey: event.eventKey,
      shardId,
    };
    let spec: UpdateSpec;
    // Active or pending workspaces are in the `live` index (source reconciliation's full
    // snapshots read it); tombstones are not.
    const live = liveEntry(event.workspaceId);
    if (event.deleted) {
      const ttl = expiresAt(this.table.clock(), TTL_SECONDS.tombstone);
      spec = {
        set: { ...identity, status: 'deleted', [TTL_ATTRIBUTE]: ttl },
        remove: [...PLACEMENT, ...LIVE_ATTRIBUTES],
      };
    } else if (shardId) {
      spec = {
        set: { ...identity, status: 'active', ...live },
        remove: [...PLACEMENT, TTL_ATTRIBUTE],
      };
    } else {
      spec = {
        set: {
          ...identity,
          ...live,
          status: 'pending_placement',
          ...byLocationEntry(event.businessId, event.locationId, event.workspaceId),
          ...workEntry(WORK.workspacePendingPlacement, event.occurredAt, event.workspaceId),
        },
        remove: [TTL_ATTRIBUTE],
      };
    }
    // Equal keys re-apply (a redelivery of the newest event must still push) until that
    // event's push is done; older ones lose. A losing write returns the record in the same call.
    spec.condition =
      'attribute_not_exists(pk) OR #lastEventKey < :eventKey OR (#lastEventKey = :eventKey AND (attribute_not_exists(#pushedKey) OR #pushedKey <> :eventKey))';
    spec.values = { ':eventKey': event.eventKey };
    spec.remove = [...(spec.remove ?? []), 'pushedKey'];
    const result = await this.table.write<WorkspaceRecord>(keys.workspace(event.workspaceId), spec);
    if (result.written) return { outcome: 'applied', record: result.item };
    if (!result.current)
      throw new Error(`workspace ${event.workspaceId} vanished during a conditional write`);
    const done = result.current.lastEventKey === event.eventKey;
    return { outcome: done ? 'done' : 'stale', record: result.current };
  }

  async markPushed(workspaceId: string, eventKey: string) {
    const result = await this.table.write<WorkspaceRecord>(keys.workspace(workspaceId), {
      set: { pushedKey: eventKey },
      condition: '#lastEventKey = :eventKey',
      values: { ':eventKey': eventKey },
    });
    return result.written ? undefined : result.current;
  }

  async listPendingAt(location: LocationRef) {
    const items = await this.table.query<WorkspaceRecord>({
      IndexName: INDEXES.byLocation.name,
      KeyConditionExpression: 'locationPk = :pk',
      ExpressionAttributeValues: {
        ':pk': keys.location(location.businessId, location.locationId).pk,
      },
    });
    // The index is eventually consistent: the record itself decides.
    return items.filter((w) => w.status === 'pending_placement');
  }

  listPendingPlacement() {
    return this.table.query<WorkspaceRecord>(workDueQuery(WORK.workspacePendingPlacement));
  }

  place(workspaceId: string, shardId: string, eventKey: string) {
    return this.table.update(keys.workspace(workspaceId), {
      set: { status: 'active', shardId },
      remove: PLACEMENT,
      condition: '#status = :pending AND #lastEventKey = :eventKey',
      values: { ':pending': 'pending_placement', ':eventKey': eventKey },
    });
  }
}
