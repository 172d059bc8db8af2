import { describe, expect, it } from 'vitest';
import { isRetryDue, nextNodeState } from '../../../shared/domain/node-status.ts';
import type { NodeRecord } from '../../../shared/domain/records.ts';

const policy = { errorAfterFailures: 3, errorBackoffBaseMs: 60_000, errorBackoffMaxMs: 600_000 };
const now = new Date('2026-11-22T10:00:00.000Z');
type Node = Pick<
  NodeRecord,
  'shardId' | 'nodeId' | 'status' | 'consecutiveFailures' | 'nextAttemptAt'
>;
const node = (status: NodeRecord['status'], consecutiveFailures = 0): Node => ({
  shardId: 's1',
  nodeId: 'n1',
  status,
  consecutiveFailures,
});
const fail = { ok: false as const, error: 'unreachable' };

/** Applies a transition to a node, as the node store does. */
function step(n: Node, outcome: { ok: true } | typeof fail, at = now): Node {
  const t = nextNodeState(n, outcome, at, policy);
  return t
    ? {
        ...n,
        status: t.status,
        consecutiveFailures: t.consecutiveFailures,
        nextAttemptAt: t.nextAttemptAt,
      }
    : n;
}

describe('node status machine', () => {
  it('walks active -> pending_sync -> error -> pending_sync -> active', () => {
    let n = node('active');
    n = step(n, fail);
    expect(n).toMatchObject({ status: 'pending_sync', consecutiveFailures: 1 });
    n = step(step(n, fail), fail);
    expect(n).toMatchObject({
      status: 'error',
      consecutiveFailures: 3,
      nextAttemptAt: '2026-11-22T10:01:00.000Z',
    });
    // The sweep finds the backoff elapsed and hands the node back for one more try.
    expect(isRetryDue(n, new Date('2026-11-22T10:00:59.000Z'))).toBe(false);
    expect(isRetryDue(n, new Date('2026-11-22T10:01:00.000Z'))).toBe(true);
    n = { ...n, status: 'pending_sync' };
    n = step(n, { ok: true });
    expect(n).toMatchObject({ status: 'active', consecutiveFailures: 0, nextAttemptAt: undefined });
  });

  it('doubles the backoff with every failure in error, capped', () => {
    const waits = [3, 4, 5, 6, 7, 8].map((failures) => {
      const t = nextNodeState(node('error', failures - 1), fail, now, policy);
      return (Date.parse(t?.nextAttemptAt ?? '') - now.getTime()) / 60_000;
    });
    expect(waits).toEqual([1, 2, 4, 8, 10, 10]);
  });

  it('records every attempt and the work index entry', () => {
    expect(nextNodeState(node('joining'), { ok: true }, now, policy)).toEqual({
      status: 'active',
      consecutiveFailures: 0,
      lastAttemptAt: now.toISOString(),
      lastSyncAt: now.toISOString(),
    });
    expect(nextNodeState(node('active'), fail, now, policy)).toEqual({
      status: 'pending_sync',
      consecutiveFailures: 1,
      lastAttemptAt: now.toISOString(),
      lastError: 'unreachable',
    });
    expect(nextNodeState(node('pending_sync', 2), fail, now, policy)).toMatchObject({
      status: 'error',
      nextAttemptAt: '2026-11-22T10:01:00.000Z',
    });
  });

  it('never moves a decommissioned node', () => {
    expect(nextNodeState(node('decommissioned'), { ok: true }, now, policy)).toBeUndefined();
    expect(nextNodeState(node('decommissioned'), fail, now, policy)).toBeUndefined();
  });
});
