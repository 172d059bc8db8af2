import type { ShardCreateData } from '../contracts/messages.ts';
import type { SchemaSpec } from '../contracts/node-agent.ts';
import { PermanentError, TransientError } from './errors.ts';
import { type PushResult, pushToShard } from './node-push.ts';
import { SharedReads } from './pool.ts';
import type { DomainPorts } from './ports.ts';
import type { NodeRecord } from './records.ts';
import { placePendingWorkspaces } from './workspace-lifecycle.ts';

export interface ShardCreationResult extends PushResult {
  shardId: string;
  /** False when the location already had an assignment (Citrus was not called). */
  registered: boolean;
  /** Workspaces that were waiting for this location and are now placed. */
  workspacesPlaced: number;
}

/**
 * Shards already fetched from Citrus and recorded, by shard key, for the records of one batch:
 * Citrus describes a shard the same way to every location placed on it, so a batch of locations
 * asks it and records the topology once per shard, not once per location.
 */
export type ShardLookups = SharedReads<{ shardId: string; nodes?: NodeRecord[] }>;

/** How long a claim on a location keeps other deliveries away (longer than any attempt). */
export const LOCATION_CLAIM_MS = 120_000;

export class RegistrationInProgressError extends TransientError {
  override readonly name = 'RegistrationInProgressError';
}

/**
 * Shard creation: register a business location with Citrus once, record the assignment and the
 * desired schema, then initialise the schema on every node of the shard. A node that fails
 * is marked `pending_sync` for reconciliation; it never fails the message.
 */
export async function createShardForLocation(
  location: ShardCreateData,
  owner: string,
  ports: DomainPorts,
  lookups: ShardLookups = new SharedReads(),
): Promise<ShardCreationResult> {
  const { locations, resources } = ports.stores;
  const { citrus } = ports;
  const schema: SchemaSpec = { ...location };
  const claim = await locations.claim(location, owner, LOCATION_CLAIM_MS);
  if (claim.outcome === 'busy') {
    throw new RegistrationInProgressError(
      `location ${location.businessId}/${location.locationId} is being registered by another delivery`,
    );
  }

  let shardId: string;
  let registered = false;
  let workspacesWaiting: boolean;
  let nodes: NodeRecord[] | undefined;
  if (claim.outcome === 'assigned') {
    // Business-level idempotency: whatever the message id, a registered location is not
    // registered again, and its schema was recorded before the assignment. The pushes below
    // are repeated (node PUTs are idempotent) in case the earlier delivery died before them.
    shardId = claim.shardId;
    workspacesWaiting = claim.workspacesWaiting;
  } else {
    // Registered by an earlier delivery that failed later on: Citrus gives a location the same
    // answer every time, so the retry goes straight to the shard.
    let assignment = claim.registeredAs;
    try {
      assignment ??= await citrus.register(location);
      const shard = await lookUpShard(assignment.shardKey, ports, lookups);
      if (shard.shardId !== assignment.shardId) {
        throw new TransientError(
          `Citrus placed the location on ${assignment.shardId} but shard ${assignment.shardKey} is ${shard.shardId}`,
        );
      }
      nodes = shard.nodes;
      await resources.putSchema(shard.shardId, schema);
      ({ workspacesWaiting } = await locations.complete(location, assignment));
      shardId = shard.shardId;
      registered = true;
    } catch (error) {
      if (error instanceof PermanentError) await locations.fail(location, error.message);
      else await locations.release(location, owner, assignment).catch(() => undefined);
      throw error;
    }
  }

  const pushed = await pushToShard(
    shardId,
    'schema push',
    (endpoint) => ports.agent.putSchema(endpoint, schema),
    ports,
    nodes,
  );
  // Only a location a workspace noted it waits for has any to place: no query otherwise.
  const workspacesPlaced = workspacesWaiting
    ? await placePendingWorkspaces(location, shardId, ports)
    : 0;
  return { shardId, registered, workspacesPlaced, ...pushed };
}

/** The shard behind a shard key, from Citrus, with its topology recorded: once per batch. */
function lookUpShard(shardKey: string, ports: DomainPorts, lookups: ShardLookups) {
  return lookups.get(shardKey, async () => {
    const shard = await ports.citrus.getShard(shardKey);
    const { nodes } = await ports.stores.shards.recordTopology({
      shardId: shard.shardId,
      role: shard.role,
      nodes: shard.nodes,
    });
    return { shardId: shard.shardId, nodes };
  });
}
