// What needs attention, for the operator's status view: the entries of the sparse `work` index,
// counted and listed up to a limit. The cost follows what needs work, never the fleet's size.
import { paginateQuery, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { NodeRecord, ShardRecord, WorkspaceRecord } from '../domain/records.ts';
import { WORK, type WorkPartition, workDueQuery } from './schema.ts';
import { fromAttributes, queryRequest, type Table } from './table.ts';

export interface WorkList<T> {
  /** Every entry of the partition (a COUNT query: no items are transferred). */
  count: number;
  /** The first `limit` entries, soonest due first. */
  items: T[];
}

export class FleetStatus {
  constructor(private readonly table: Table) {}

  async work<T>(partition: WorkPartition, limit: number): Promise<WorkList<T>> {
    const query = queryRequest(this.table.name, workDueQuery(partition));
    let count = 0;
    const pages = paginateQuery({ client: this.table.db }, { ...query, Select: 'COUNT' });
    for await (const page of pages) count += page.Count ?? 0;
    if (count === 0 || limit <= 0) return { count, items: [] };
    const { Items = [] } = await this.table.db.send(new QueryCommand({ ...query, Limit: limit }));
    return { count, items: Items.map((item) => fromAttributes<T>(item)) };
  }

  /** Nodes that are not `active` (bar decommissioned ones), failed shards, unplaced workspaces. */
  async needingWork(limit: number) {
    const [joining, pendingSync, error, failed, pendingPlacement] = await Promise.all([
      this.work<NodeRecord>(WORK.nodeJoining, limit),
      this.work<NodeRecord>(WORK.nodePendingSync, limit),
      this.work<NodeRecord>(WORK.nodeError, limit),
      this.work<ShardRecord>(WORK.shardFailed, limit),
      this.work<WorkspaceRecord>(WORK.workspacePendingPlacement, limit),
    ]);
    return {
      nodes: { joining, pending_sync: pendingSync, error },
      shards: { failed },
      workspaces: { pending_placement: pendingPlacement },
    };
  }
}
