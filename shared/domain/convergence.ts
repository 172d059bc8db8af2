import { errorMessage, TransientError } from './errors.ts';
import {
  DEFAULT_NODE_POLICY,
  followUpAt,
  isQuietSuccess,
  isRetryDue,
  type NodeStatusPolicy,
  nextNodeState,
} from './node-status.ts';
import { mapSettled } from './pool.ts';
import type { NodeAttempt, Stores } from './ports.ts';
import { truncate } from './records.ts';
import type { NodeConvergence, RoleStrategy } from './roles/index.ts';

/**
 * Nodes of one shard converged at once. Shards have a handful of nodes, so in practice all of
 * them: a 50-node shard then takes about as long as a 1-node one (`npm run bench -- reconcile`).
 */
export const CONVERGENCE_NODE_PARALLELISM = 64;

/**
 * Node records written per store call. The table store writes up to 25 items in one request,
 * so a batch this size is one request.
 */
export const NODE_RECORD_BATCH = 25;

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
      /** Nodes in `error` that did not answer their health check: left as they were. */
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
  // Taking the lease marks the shard `converging` and returns it: no separate read or write.
  const lease = await shards.acquireLease(shardId, owner, settings.leaseMs);
  if (lease.outcome === 'unknown') return { outcome: 'unknown_shard' };
  if (lease.outcome === 'held')
    throw new ShardLeasedError(`shard ${shardId} is being converged by another job`);
  const { shard } = lease;
  let finished = false;
  const finish = async (outcome: 'active' | 'failed', lastError?: string) => {
    finished = true;
    await shards.finishConvergence(shardId, owner, outcome, {
      lastConvergedAt: clock().toISOString(),
      ...(lastError ? { lastError: truncate(lastError) } : {}),
    });
  };
  try {
    // Independent reads, side by side: one round trip instead of two.
    const [nodes, resources] = await Promise.all([
      nodeStore.list(shardId),
      resourceStore.list(shardId),
    ]);
    if (nodes.length === 0) {
      const error = 'shard has no nodes';
      await finish('failed', error);
      return {
        outcome: 'failed',
        role: shard.role,
        attempted: [],
        skipped: [],
        failures: [{ nodeId: '-', error }],
        superseded: [],
      };
    }
    const now = clock();
    const policy = settings.nodePolicy ?? DEFAULT_NODE_POLICY;
    // Decommissioned nodes are never pushed to. A node in `error` whose backoff has not ended
    // is still probed (the health check is short): one that answers again is converged at
    // once, however long it was away; one still down is skipped without a write.
    const eligible = nodes.filter((n) => n.status !== 'decommissioned');
    const convergeNode = ports
      .strategyFor(shard.role)
      .forShard({ shardId, resources, now, orphanGraceMs: settings.orphanGraceMs });
    // By node position, so the summary lists failures in the same order on every run.
    const failedAt: Array<{ nodeId: string; error: string } | undefined> = [];
    const skippedAt: Array<string | undefined> = [];
    const superseded: Array<string | undefined> = [];
    // Node records are written in batches (one request each): a batch goes as soon as it is
    // full, so the writes still overlap the other nodes' HTTP work; the rest once all are done.
    const unrecordedAt = new Map<number, unknown>();
    const pending: Array<{ index: number; attempt: NodeAttempt }> = [];
    const writes: Array<Promise<void>> = [];
    const flush = () => {
      const batch = pending.splice(0);
      if (batch.length === 0) return;
      const written = nodeStore.recordAttempts(batch.map((p) => p.attempt));
      writes.push(
        written.then(
          (results) => {
            for (const [k, { index, attempt }] of batch.entries())
              if (!results[k]) superseded[index] = attempt.node.nodeId;
          },
          (reason: unknown) => {
            for (const { index } of batch) unrecordedAt.set(index, reason);
          },
        ),
      );
    };
    const converged = await mapSettled(eligible, settings.nodeParallelism, async (node, i) => {
      const result = await convergeNode(node).catch(
        (error: unknown): NodeConvergence => ({
          nodeId: node.nodeId,
          ok: false,
          error: errorMessage(error),
        }),
      );
      const error = result.error ?? 'failed';
      if (!result.ok && result.unreachable && node.status === 'error' && !isRetryDue(node, now)) {
        skippedAt[i] = node.nodeId;
        failedAt[i] = {
          nodeId: node.nodeId,
          error: `skipped (in error until ${node.nextAttemptAt}): ${error}`,
        };
        return;
      }
      if (!result.ok) failedAt[i] = { nodeId: node.nodeId, error };
      const transition = nextNodeState(
        node,
        result.ok ? { ok: true } : { ok: false, error },
        now,
        policy,
        followUpAt(result.orphans, settings.orphanGraceMs),
      );
      if (!transition || isQuietSuccess(node, transition, result.orphans, now)) return;
      pending.push({ index: i, attempt: { node, transition, orphans: result.orphans } });
      if (pending.length >= NODE_RECORD_BATCH) flush();
    });
    flush();
    await Promise.all(writes);
    // A node state that could not be recorded fails the job (after every node is done), so
    // SQS retries it rather than leaving the table behind the nodes. The first such node in
    // node order decides the reason, as when each node was written on its own.
    for (const [i, outcome] of converged.entries()) {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (unrecordedAt.has(i)) throw unrecordedAt.get(i);
    }
    // Active only when every node that is not decommissioned holds its desired state.
    const failures = failedAt.filter((f) => f !== undefined);
    const outcome = failures.length ? 'failed' : 'active';
    await finish(outcome, failures.map((f) => `${f.nodeId}: ${f.error}`).join('; '));
    return {
      outcome,
      role: shard.role,
      attempted: eligible.filter((_, i) => !skippedAt[i]).map((n) => n.nodeId),
      skipped: skippedAt.filter((id) => id !== undefined),
      failures,
      superseded: superseded.filter((id) => id !== undefined),
    };
  } finally {
    if (!finished) await shards.releaseLease(shardId, owner);
  }
}
