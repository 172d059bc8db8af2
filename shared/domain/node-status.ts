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
  /** When a node that is otherwise fine needs another convergence (an orphan's grace ends). */
  followUpAt?: string;
}

/** A node that stays in sync writes its record at least this often (`lastSyncAt`). */
export const SYNC_REFRESH_MS = 3_600_000;

/**
 * When the orphans a convergence left in their grace period may be removed: the next
 * convergence is arranged for then, without waiting for a full verification.
 */
export function followUpAt(
  orphans: Record<string, Record<string, string>> | undefined,
  graceMs: number,
): string | undefined {
  const firstSeen = Object.values(orphans ?? {}).flatMap((ids) => Object.values(ids));
  if (firstSeen.length === 0) return undefined;
  const earliest = Math.min(...firstSeen.map((at) => Date.parse(at)));
  return new Date(earliest + graceMs).toISOString();
}

const orphanKey = (orphans: Record<string, Record<string, string>> | undefined) =>
  JSON.stringify(
    Object.entries(orphans ?? {})
      .filter(([, ids]) => Object.keys(ids).length > 0)
      .map(([kind, ids]) => [kind, Object.entries(ids).sort()])
      .sort(),
  );

/**
 * A successful attempt that changes nothing about the node (still `active`, no failures to
 * reset, the same orphans) and whose `lastSyncAt` is recent: not written, so a quiet fleet
 * costs no writes.
 */
export function isQuietSuccess(
  node: Pick<NodeRecord, 'status' | 'consecutiveFailures' | 'lastError' | 'lastSyncAt' | 'orphans'>,
  transition: NodeTransition,
  orphans: Record<string, Record<string, string>> | undefined,
  now: Date,
): boolean {
  return (
    transition.status === 'active' &&
    node.status === 'active' &&
    !node.consecutiveFailures &&
    !node.lastError &&
    node.lastSyncAt !== undefined &&
    now.getTime() - Date.parse(node.lastSyncAt) < SYNC_REFRESH_MS &&
    orphanKey(node.orphans) === orphanKey(orphans)
  );
}

/**
 * The node status machine of a convergence. Every recorded attempt sets `lastAttemptAt`.
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
  followUp?: string,
): NodeTransition | undefined {
  if (node.status === 'decommissioned') return undefined;
  const at = now.toISOString();
  if (outcome.ok)
    return {
      status: 'active',
      consecutiveFailures: 0,
      lastAttemptAt: at,
      lastSyncAt: at,
      ...(followUp ? { followUpAt: followUp } : {}),
    };
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
