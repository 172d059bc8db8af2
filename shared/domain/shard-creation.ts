import type { ShardCreateData } from '../contracts/messages.ts';
import type { SchemaSpec } from '../contracts/node-agent.ts';
import { PermanentError, TransientError } from './errors.ts';
import { type NodeRecord, PUSHABLE_NODE_STATUSES } from './records.ts';

/** What flow 1 needs from the outside world; adapters implement it, tests fake it. */
export interface ShardCreationPorts {
  repository: {
    claimLocation(
      location: ShardCreateData,
      owner: string,
      leaseMs: number,
    ): Promise<
      | { outcome: 'claimed' }
      | { outcome: 'assigned'; shardId: string; shardKey: string }
      | { outcome: 'busy' }
    >;
    recordTopology(topology: {
      shardId: string;
      role: string;
      nodes: Array<{ nodeId: string; endpoint: string }>;
    }): Promise<{ shardCreated: boolean }>;
    putSchemaResource(shardId: string, schema: SchemaSpec): Promise<void>;
    completeLocation(
      location: ShardCreateData,
      assignment: { shardId: string; shardKey: string },
    ): Promise<void>;
    failLocation(location: ShardCreateData, reason: string): Promise<void>;
    releaseLocation(location: ShardCreateData, owner: string): Promise<void>;
    listNodes(shardId: string): Promise<NodeRecord[]>;
    markNodePendingSync(shardId: string, nodeId: string, reason: string): Promise<boolean>;
  };
  citrus: {
    register(location: ShardCreateData): Promise<{ shardKey: string; shardId: string }>;
    getShard(shardKey: string): Promise<{
      shardId: string;
      role: string;
      nodes: Array<{ nodeId: string; endpoint: string }>;
    }>;
  };
  /** Pushes the schema to every node; one outcome per node, never throws. */
  pushSchema(
    nodes: NodeRecord[],
    schema: SchemaSpec,
  ): Promise<Array<{ nodeId: string; ok: true } | { nodeId: string; ok: false; error: string }>>;
}

export interface ShardCreationResult {
  shardId: string;
  /** False when the location already had an assignment (Citrus was not called). */
  registered: boolean;
  nodesInitialised: string[];
  nodesPendingSync: Array<{ nodeId: string; error: string }>;
}

/** How long a claim on a location keeps other deliveries away (longer than any attempt). */
export const LOCATION_CLAIM_MS = 120_000;

export class RegistrationInProgressError extends TransientError {
  override readonly name = 'RegistrationInProgressError';
}

/**
 * Flow 1: register a business location with Citrus once, record the assignment and the
 * desired schema, then initialise the schema on every node of the shard. A node that fails
 * is marked `pending_sync` for reconciliation; it never fails the message.
 */
export async function createShardForLocation(
  location: ShardCreateData,
  owner: string,
  ports: ShardCreationPorts,
): Promise<ShardCreationResult> {
  const { repository, citrus } = ports;
  const schema: SchemaSpec = { ...location };
  const claim = await repository.claimLocation(location, owner, LOCATION_CLAIM_MS);
  if (claim.outcome === 'busy') {
    throw new RegistrationInProgressError(
      `location ${location.businessId}/${location.locationId} is being registered by another delivery`,
    );
  }

  let shardId: string;
  let registered = false;
  if (claim.outcome === 'assigned') {
    // Business-level idempotency: whatever the message id, a registered location is not
    // registered again. The schema push below is repeated (node PUTs are idempotent) in case
    // the earlier delivery died between recording and pushing.
    shardId = claim.shardId;
    await repository.putSchemaResource(shardId, schema);
  } else {
    try {
      const assignment = await citrus.register(location);
      const shard = await citrus.getShard(assignment.shardKey);
      if (shard.shardId !== assignment.shardId) {
        throw new TransientError(
          `Citrus placed the location on ${assignment.shardId} but shard ${assignment.shardKey} is ${shard.shardId}`,
        );
      }
      await repository.recordTopology({
        shardId: shard.shardId,
        role: shard.role,
        nodes: shard.nodes,
      });
      await repository.putSchemaResource(shard.shardId, schema);
      await repository.completeLocation(location, assignment);
      shardId = shard.shardId;
      registered = true;
    } catch (error) {
      if (error instanceof PermanentError) await repository.failLocation(location, error.message);
      else await repository.releaseLocation(location, owner).catch(() => undefined);
      throw error;
    }
  }

  const nodes = (await repository.listNodes(shardId)).filter((n) =>
    PUSHABLE_NODE_STATUSES.includes(n.status),
  );
  const outcomes = await ports.pushSchema(nodes, schema);
  const nodesPendingSync: ShardCreationResult['nodesPendingSync'] = [];
  const nodesInitialised: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.ok) nodesInitialised.push(outcome.nodeId);
    else nodesPendingSync.push({ nodeId: outcome.nodeId, error: outcome.error });
  }
  await Promise.all(
    nodesPendingSync.map((failure) =>
      repository.markNodePendingSync(
        shardId,
        failure.nodeId,
        `schema push failed: ${failure.error}`,
      ),
    ),
  );
  return { shardId, registered, nodesInitialised, nodesPendingSync };
}
