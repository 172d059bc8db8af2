// Role strategies: how a shard of a given role converges. Adding a role is one module that
// exports a RoleStrategy and one line in ROLE_STRATEGIES; nothing else changes.
import type { NodeRecord, ResourceRecord } from '../records.ts';

export interface NodeConvergence {
  nodeId: string;
  ok: boolean;
  /** Why the node failed (unreachable, apply failed...), when it did. */
  error?: string;
  /** The node did not answer its health check (nothing was attempted on it). */
  unreachable?: boolean;
  /** Orphans still in their grace period on this node, per kind: id -> first seen. */
  orphans?: Record<string, Record<string, string>>;
}

export interface RoleContext {
  shardId: string;
  resources: ResourceRecord[];
  now: Date;
  orphanGraceMs: number;
}

/** Converges one node of the shard; a node's failure is in the result, not thrown. */
export type NodeConverger = (node: NodeRecord) => Promise<NodeConvergence>;

export interface RoleStrategy {
  /**
   * Works out the shard's desired state once and returns how to converge each node. The
   * caller runs the nodes in parallel and records them in batches as they finish.
   */
  forShard(context: RoleContext): NodeConverger;
}

/** Roles with nothing to converge: their shards are active as soon as they are known. */
export const nothingToConverge: RoleStrategy = {
  forShard: () => async (node) => ({ nodeId: node.nodeId, ok: true }),
};
