import type { NodeAttempt, NodeStore, NodeWork } from '../domain/ports.ts';
import { type NodeRecord, type NodeStatus, truncate } from '../domain/records.ts';
import {
  keys,
  shardPartition,
  WORK,
  WORK_ATTRIBUTES,
  type WorkPartition,
  workDueQuery,
  workEntry,
} from './schema.ts';
import type { Table, VersionedUpdate } from './table.ts';

/** The `work` partition of each kind of node work. */
const WORK_OF: Record<NodeWork, WorkPartition> = {
  pending_sync: WORK.nodePendingSync,
  joining: WORK.nodeJoining,
  error: WORK.nodeError,
  follow_up: WORK.nodeFollowUp,
};

/** What a node in `status` still needs from the sweep, if anything. */
function workOf(status: NodeStatus, followUpAt: string | undefined): NodeWork | undefined {
  if (status === 'pending_sync' || status === 'joining' || status === 'error') return status;
  return status === 'active' && followUpAt ? 'follow_up' : undefined;
}

/** A convergence attempt's write: the node's new state and work entry, if its version held. */
function attemptUpdate({ node, transition, orphans }: NodeAttempt): VersionedUpdate {
  // A node in `error` is due when its backoff ends, a follow-up when its orphans' grace
  // does; other work is due at once.
  const work = workOf(transition.status, transition.followUpAt);
  const dueAt = transition.nextAttemptAt ?? transition.followUpAt ?? transition.lastAttemptAt;
  return {
    key: keys.node(node.shardId, node.nodeId),
    version: node.version,
    set: {
      ...transition,
      ...(work ? workEntry(WORK_OF[work], dueAt, node.shardId, node.nodeId) : {}),
      orphans,
    },
    remove: [
      ...(work ? [] : WORK_ATTRIBUTES),
      ...(transition.lastError ? [] : ['lastError']),
      ...(transition.nextAttemptAt ? [] : ['nextAttemptAt']),
      ...(transition.followUpAt ? [] : ['followUpAt']),
    ],
  };
}

/** The nodes of each shard and their sync status (the node status machine's records). */
export class Nodes implements NodeStore {
  constructor(private readonly table: Table) {}

  list(shardId: string) {
    return this.table.queryPrefix<NodeRecord>(shardPartition.pk(shardId), shardPartition.nodes);
  }

  markPendingSync(shardId: string, nodeId: string, reason: string) {
    const now = this.table.now();
    return this.table.update(keys.node(shardId, nodeId), {
      set: {
        status: 'pending_sync',
        lastError: truncate(reason, 1000),
        lastAttemptAt: now,
        ...workEntry(WORK.nodePendingSync, now, shardId, nodeId),
      },
      condition: 'attribute_exists(pk) AND #status IN (:joining, :active, :pending)',
      values: { ':joining': 'joining', ':active': 'active', ':pending': 'pending_sync' },
    });
  }

  recordAttempts(attempts: readonly NodeAttempt[]) {
    if (attempts.length === 0) return Promise.resolve([]);
    // Optimistic: a push that failed meanwhile (pending_sync), a new endpoint or a
    // decommission is newer than this attempt's view, and must not be overwritten.
    return this.table.batchUpdate(attempts.map(attemptUpdate));
  }

  setMembership(shardId: string, nodeId: string, status: 'joining' | 'decommissioned') {
    const key = keys.node(shardId, nodeId);
    if (status === 'joining') {
      return this.table.update(key, {
        set: {
          status,
          consecutiveFailures: 0,
          ...workEntry(WORK.nodeJoining, this.table.now(), shardId, nodeId),
        },
        remove: ['nextAttemptAt', 'lastError'],
        condition: '#status = :decommissioned',
        values: { ':decommissioned': 'decommissioned' },
      });
    }
    return this.table.update(key, {
      set: { status },
      remove: [...WORK_ATTRIBUTES, 'nextAttemptAt'],
      condition: 'attribute_exists(pk) AND #status <> :decommissioned',
      values: { ':decommissioned': 'decommissioned' },
    });
  }

  retryErrored(shardId: string, nodeId: string) {
    return this.table.update(keys.node(shardId, nodeId), {
      set: {
        status: 'pending_sync',
        ...workEntry(WORK.nodePendingSync, this.table.now(), shardId, nodeId),
      },
      remove: ['nextAttemptAt'],
      condition: '#status = :error',
      values: { ':error': 'error' },
    });
  }

  async listNeedingWork(work: NodeWork, dueBy?: Date) {
    const items = await this.table.query<NodeRecord>(workDueQuery(WORK_OF[work], dueBy));
    return items.map(({ shardId, nodeId, nextAttemptAt }) => ({ shardId, nodeId, nextAttemptAt }));
  }
}
