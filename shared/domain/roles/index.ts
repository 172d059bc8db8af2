// Role strategies: how a shard of a given role converges. Adding a role is one module that
// exports a RoleStrategy and one line in ROLE_STRATEGIES; nothing else changes.
import type { NodeRecord, ResourceRecord } from '../records.ts';

export interface NodeConvergence {
  nodeId: string;
  ok: boolean;
  /** Why the node failed (unreachable, apply failed...), when it did. */
  error?: string;
  /** Orphans still in their grace period on this node, per kind: id -> first seen. */
  orphans?: Record<string, Record<string, string>>;
}

export interface RoleContext {
  shardId: string;
  resources: ResourceRecord[];
  now: Date;
  orphanGraceMs: number;
}

export interface RoleStrategy {
  /** Converges the given nodes; never throws for a node's failure (it is in the result). */
  converge(nodes: NodeRecord[], context: RoleContext): Promise<NodeConvergence[]>;
}

/** Roles with nothing to converge: their shards are active as soon as they are known. */
export const nothingToConverge: RoleStrategy = {
  converge: async (nodes) => nodes.map((n) => ({ nodeId: n.nodeId, ok: true })),
};
