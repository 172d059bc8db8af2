import { errorMessage, TransientError } from './errors.ts';
import {
  DEFAULT_NODE_POLICY,
  isRetryDue,
  type NodeStatusPolicy,
  nextNodeState,
} from './node-status.ts';
import { mapSettled } from './pool.ts';
import type { Stores } from './ports.ts';
import { truncate } from './records.ts';
import type { NodeConvergence, RoleStrategy } from './roles/index.ts';

/**
 * Nodes of one shard converged at once. Shards have a handful of nodes, so in practice all of
 * them: a 50-node shard then takes about as long as a 1-node one (`npm run bench -- reconcile`).
 */
export const CONVERGENCE_NODE_PARALLELISM = 64;

export interface ConvergenceSettings {
  orphanGraceMs: number;
  /** Nodes converged at once (CONVERGENCE_NODE_PARALLELISM in the function). */
  nodeParallelism: number;
  nodePolicy?: NodeStatusPolicy;
  /** How long the lease keeps other jobs off this shard; longer than the function timeout. */
  leaseMs: number;
  clock?: () => Date;
}

export interface ConvergencePorts {
  stores: Stores;
  strategyFor: (role: string) => RoleStrategy;
}

export type ConvergenceResult =
  | { outcome: 'unknown_shard' }
  | {
      outcome: 'active' | 'failed';
      role: string;
      attempted: string[];
      skipped: string[];
      failures: Array<{ nodeId: string; error: string }>;
      /**
       * Nodes whose record changed while this job worked (a failed push, a new endpoint, a
       * decommission): their state was left as the newer writer set it.
       */
      superseded: string[];
    };

/** Another job holds the shard: this one is retried later rather than run concurrently. */
export class ShardLeasedError extends TransientError {
  override readonly name = 'ShardLeasedError';
}

/**
 * Shard convergence, level-triggered: the job carries only the shard id; everything else is re-read, so
 * a duplicate or late job is harmless and a shard with no drift costs a health check and a
 * listing per node. Node failures never abort the run; they are collected into the summary.
 */
export async function convergeShard(
  shardId: string,
  owner: string,
  ports: ConvergencePorts,
  settings: ConvergenceSettings,
): Promise<ConvergenceResult> {
  const { shards, nodes: nodeStore, resources: resourceStore } = ports.stores;
  const clock = settings.clock ?? (() => new Date());
  const lease = await shards.acquireLease(shardId, owner, settings.leaseMs);
  if (lease === 'unknown') return { outcome: 'unknown_shard' };
  if (lease === 'held')
    throw new ShardLeasedError(`shard ${shardId} is being converged by another job`);
  try {
    // Independent reads, side by side: one round trip instead of three.
    const [shard, nodes, resources] = await Promise.all([
      shards.get(shardId),
      nodeStore.list(shardId),
      resourceStore.list(shardId),
    ]);
    if (!shard) return { outcome: 'unknown_shard' };
    if (nodes.length === 0) {
      const error = 'shard has no nodes';
      await shards.setStatus(shardId, 'failed', { lastError: error });
      return {
        outcome: 'failed',
        role: shard.role,
        attempted: [],
        skipped: [],
        failures: [{ nodeId: '-', error }],
        superseded: [],
      };
    }
    await shards.setStatus(shardId, 'converging');
    const now = clock();
    // Decommissioned nodes are never pushed to; nodes in `error` wait out their backoff.
    const eligible = nodes.filter(
      (n) => n.status !== 'decommissioned' && (n.status !== 'error' || isRetryDue(n, now)),
    );
    const skipped = nodes.filter((n) => !eligible.includes(n)).map((n) => n.nodeId);
    const convergeNode = ports
      .strategyFor(shard.role)
      .forShard({ shardId, resources, now, orphanGraceMs: settings.orphanGraceMs });
    const policy = settings.nodePolicy ?? DEFAULT_NODE_POLICY;
    // By node position, so the summary lists failures in the same order on every run.
    const failedAt: Array<{ nodeId: string; error: string } | undefined> = [];
    const superseded: Array<string | undefined> = [];
    // Each node is recorded the moment it is done, so the writes overlap the other nodes'
    // HTTP work instead of queueing up after the slowest node.
    const recorded = await mapSettled(eligible, settings.nodeParallelism, async (node, i) => {
      const result = await convergeNode(node).catch(
        (error: unknown): NodeConvergence => ({
          nodeId: node.nodeId,
          ok: false,
          error: errorMessage(error),
        }),
      );
      const error = result.error ?? 'failed';
      if (!result.ok) failedAt[i] = { nodeId: node.nodeId, error };
      const transition = nextNodeState(
        node,
        result.ok ? { ok: true } : { ok: false, error },
        now,
        policy,
      );
      if (transition && !(await nodeStore.recordAttempt(node, transition, result.orphans)))
        superseded[i] = node.nodeId;
    });
    // A node state that could not be recorded fails the job (after every node is done), so
    // SQS retries it rather than leaving the table behind the nodes.
    const unrecorded = recorded.find((r) => r.status === 'rejected');
    if (unrecorded) throw unrecorded.reason;
    const failures = failedAt.filter((f) => f !== undefined);
    const outcome = failures.length ? 'failed' : 'active';
    await shards.setStatus(shardId, outcome, {
      lastConvergedAt: now.toISOString(),
      ...(failures.length
        ? { lastError: truncate(failures.map((f) => `${f.nodeId}: ${f.error}`).join('; ')) }
        : {}),
    });
    return {
      outcome,
      role: shard.role,
      attempted: eligible.map((n) => n.nodeId),
      skipped,
      failures,
      superseded: superseded.filter((id) => id !== undefined),
    };
  } finally {
    await shards.releaseLease(shardId, owner);
  }
}
