import type { NodeRecord, NodeStatus } from './records.ts';

export interface NodeStatusPolicy {
  /** Consecutive failures after which a node goes to `error` (SSM reconcile/error-after-failures). */
  errorAfterFailures: number;
  /** First wait once in `error`; doubles with every further failure. */
  errorBackoffBaseMs: number;
  errorBackoffMaxMs: number;
}

export const DEFAULT_NODE_POLICY: NodeStatusPolicy = {
  errorAfterFailures: 5,
  errorBackoffBaseMs: 60_000,
  errorBackoffMaxMs: 3_600_000,
};

export interface NodeTransition {
  status: NodeStatus;
  consecutiveFailures: number;
  lastAttemptAt: string;
  lastSyncAt?: string;
  lastError?: string;
  /** When a node in `error` may be tried again. */
  nextAttemptAt?: string;
}

/**
 * The node status machine of a convergence. Every attempt sets `lastAttemptAt`.
 * - success: -> `active`, failures reset, `lastSyncAt` set, off the work index;
 * - failure: -> `pending_sync` with failures + 1, or `error` once failures reach the
 *   threshold, with an exponential backoff (no jitter: one writer per node) before the
 *   next attempt;
 * - `decommissioned` is terminal: nothing moves it (Citrus no longer lists the node).
 */
export function nextNodeState(
  node: Pick<NodeRecord, 'shardId' | 'nodeId' | 'status' | 'consecutiveFailures'>,
  outcome: { ok: true } | { ok: false; error: string },
  now: Date,
  policy: NodeStatusPolicy = DEFAULT_NODE_POLICY,
): NodeTransition | undefined {
  if (node.status === 'decommissioned') return undefined;
  const at = now.toISOString();
  if (outcome.ok)
    return { status: 'active', consecutiveFailures: 0, lastAttemptAt: at, lastSyncAt: at };
  const failures = (node.consecutiveFailures ?? 0) + 1;
  if (failures < policy.errorAfterFailures) {
    return {
      status: 'pending_sync',
      consecutiveFailures: failures,
      lastAttemptAt: at,
      lastError: outcome.error,
    };
  }
  // Deterministic doubling: base, 2x, 4x ... from the failure that crossed the threshold.
  const exponent = failures - policy.errorAfterFailures;
  const wait = Math.min(policy.errorBackoffMaxMs, policy.errorBackoffBaseMs * 2 ** exponent);
  const nextAttemptAt = new Date(now.getTime() + wait).toISOString();
  return {
    status: 'error',
    consecutiveFailures: failures,
    lastAttemptAt: at,
    lastError: outcome.error,
    nextAttemptAt,
  };
}

/** A node in `error` whose backoff has passed goes back to `pending_sync` for one more try. */
export function isRetryDue(node: Pick<NodeRecord, 'status' | 'nextAttemptAt'>, now: Date): boolean {
  return (
    node.status === 'error' &&
    (!node.nextAttemptAt || Date.parse(node.nextAttemptAt) <= now.getTime())
  );
}
