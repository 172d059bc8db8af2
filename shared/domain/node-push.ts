import type { DomainPorts, NodeOutcome } from './ports.ts';
import { type NodeRecord, PUSHABLE_NODE_STATUSES } from './records.ts';

export interface PushResult {
  succeeded: string[];
  pendingSync: Array<{ nodeId: string; error: string }>;
}

/**
 * Pushes one operation to every pushable node of a shard. A node that fails is marked
 * `pending_sync` for reconciliation: an offline node never fails the message.
 */
export async function pushToShard(
  shardId: string,
  what: string,
  operation: (endpoint: string) => Promise<unknown>,
  ports: DomainPorts,
  /** The shard's nodes when the caller has just read them (saves listing them again). */
  known?: NodeRecord[],
): Promise<PushResult> {
  const nodes = (known ?? (await ports.stores.nodes.list(shardId))).filter((n) =>
    PUSHABLE_NODE_STATUSES.includes(n.status),
  );
  const outcomes: NodeOutcome[] = await ports.fanOut(nodes, operation);
  const result: PushResult = { succeeded: [], pendingSync: [] };
  for (const outcome of outcomes) {
    if (outcome.ok) result.succeeded.push(outcome.nodeId);
    else result.pendingSync.push({ nodeId: outcome.nodeId, error: outcome.error });
  }
  await Promise.all(
    result.pendingSync.map((failure) =>
      ports.stores.nodes.markPendingSync(
        shardId,
        failure.nodeId,
        `${what} failed: ${failure.error}`,
      ),
    ),
  );
  return result;
}
