import type { WorkspaceMessage } from '../contracts/messages.ts';
import { type PushResult, pushToShard } from './node-push.ts';
import { SharedReads } from './pool.ts';
import type { DomainPorts, LocationRef, WorkspaceChange } from './ports.ts';
import type { NodeRecord, WorkspaceRecord } from './records.ts';

/** Re-reads after a push to catch a newer event that raced this one; bounded. */
const MAX_RACE_CHECKS = 3;

/**
 * Events of one workspace in a total order: by occurredAt (normalised, so different ISO
 * precisions compare right), and a delete after a create at the same instant.
 */
export function eventKeyOf(occurredAt: string, deleted: boolean): string {
  return `${new Date(occurredAt).toISOString()}#${deleted ? 1 : 0}`;
}

export type WorkspaceOutcome =
  | { outcome: 'stale'; current: WorkspaceRecord }
  | { outcome: 'pending_placement' }
  | { outcome: 'deleted_unplaced' }
  /** A redelivery of an event already applied and pushed. */
  | { outcome: 'duplicate' }
  | ({ outcome: 'monitored' | 'unmonitored'; shardId: string } & PushResult);

/**
 * Workspace lifecycle: record the event unless a newer one is already recorded (so a late `created` can
 * never resurrect a deleted workspace), then ensure or remove the store on every node of the
 * shard of the workspace's business location.
 */
export async function applyWorkspaceEvent(
  message: WorkspaceMessage,
  ports: DomainPorts,
  /** The nodes of each shard, read once for the records of a batch. */
  nodeReads: SharedReads<NodeRecord[]> = new SharedReads(),
): Promise<WorkspaceOutcome> {
  const deleted = message.type === 'workspace.deleted';
  const event: WorkspaceChange = {
    ...message.data,
    deleted,
    occurredAt: new Date(message.occurredAt).toISOString(),
    eventKey: eventKeyOf(message.occurredAt, deleted),
  };
  // The store lives on the shard of the business location, whichever event this is.
  const { workspaces, locations } = ports.stores;
  const shardId = await locations.shardOf(event);
  const written = await workspaces.recordEvent(event, shardId);
  if (written.outcome === 'stale') return { outcome: 'stale', current: written.record };
  if (written.outcome === 'done') return { outcome: 'duplicate' };
  if (shardId) return converge(written.record, shardId, ports, nodeReads);
  if (deleted) return { outcome: 'deleted_unplaced' };
  // The location may have been registered between our read and our write; its shard.create
  // then did not see ours. The note tells a later one to look; a shard returned means it is
  // there already.
  const placedOn = await locations.awaitPlacement(event);
  if (placedOn && (await workspaces.place(event.workspaceId, placedOn, event.eventKey))) {
    return converge(
      { ...written.record, status: 'active', shardId: placedOn },
      placedOn,
      ports,
      nodeReads,
    );
  }
  return { outcome: 'pending_placement' };
}

/** Places every workspace that waited for this location (query by location, no scan). */
export async function placePendingWorkspaces(
  location: LocationRef,
  shardId: string,
  ports: DomainPorts,
): Promise<number> {
  let placed = 0;
  const nodeReads = new SharedReads<NodeRecord[]>();
  const { workspaces } = ports.stores;
  for (const workspace of await workspaces.listPendingAt(location)) {
    if (await workspaces.place(workspace.workspaceId, shardId, workspace.lastEventKey)) {
      await converge({ ...workspace, status: 'active', shardId }, shardId, ports, nodeReads);
      placed++;
    }
  }
  return placed;
}

/**
 * Writes the desired store for the workspace's newest state and pushes it. After pushing it
 * marks the event pushed, unless a newer event landed meanwhile: then that state is pushed too,
 * so the last push any node sees is the newest state.
 */
async function converge(
  record: WorkspaceRecord,
  shardId: string,
  ports: DomainPorts,
  nodeReads: SharedReads<NodeRecord[]>,
) {
  let current = record;
  let result: PushResult = { succeeded: [], pendingSync: [] };
  for (let check = 0; check < MAX_RACE_CHECKS; check++) {
    const remove = current.status === 'deleted';
    await ports.stores.resources.putStore(
      shardId,
      current.workspaceId,
      remove ? 'deleted' : 'active',
      current.lastEventKey,
    );
    const storeId = current.workspaceId;
    const nodes = await nodeReads.get(shardId, () => ports.stores.nodes.list(shardId));
    result = await pushToShard(
      shardId,
      remove ? 'store removal' : 'store push',
      (endpoint) =>
        remove
          ? ports.agent.deleteStore(endpoint, storeId)
          : ports.agent.putStore(endpoint, storeId),
      ports,
      nodes,
    );
    const latest = await ports.stores.workspaces.markPushed(
      current.workspaceId,
      current.lastEventKey,
    );
    if (!latest || latest.status === 'pending_placement') {
      return {
        outcome: remove ? ('unmonitored' as const) : ('monitored' as const),
        shardId,
        ...result,
      };
    }
    current = latest;
  }
  return {
    outcome: current.status === 'deleted' ? ('unmonitored' as const) : ('monitored' as const),
    shardId,
    ...result,
  };
}
