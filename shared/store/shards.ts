import type { LeaseResult, ShardStore, ShardTopology, TopologyRecord } from '../domain/ports.ts';
import { type NodeRecord, type ShardRecord, truncate } from '../domain/records.ts';
import { keys, shardPartition, WORK, WORK_ATTRIBUTES, workDueQuery, workEntry } from './schema.ts';
import type { Table } from './table.ts';

/** Shards: their record, the nodes Citrus gave them, and the per-shard convergence lease. */
export class Shards implements ShardStore {
  constructor(private readonly table: Table) {}

  get(shardId: string) {
    return this.table.get<ShardRecord>(keys.shard(shardId));
  }

  /**
   * Records a shard and its nodes as Citrus describes them, after reading the shard and its
   * nodes in one Query: nothing is written for what is already recorded. A shard seen for the
   * first time is `active` with `active` nodes (nothing to catch up on); nodes new to a known
   * shard start `joining` so that convergence brings them every existing resource; a known node
   * keeps its status and only follows its endpoint (a version bump for nothing would make a
   * running convergence discard its node results).
   */
  async recordTopology(topology: ShardTopology): Promise<TopologyRecord> {
    const { shardId } = topology;
    const { from, to } = shardPartition.metaAndNodes;
    const items = await this.table.query<(ShardRecord | NodeRecord) & { type: string }>({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': shardPartition.pk(shardId), ':from': from, ':to': to },
      ConsistentRead: true,
    });
    const previous = items.filter((i): i is NodeRecord & { type: string } => i.type === 'node');
    const shardCreated =
      !items.some((i) => i.type === 'shard') &&
      (await this.table.put(
        { ...keys.shard(shardId), type: 'shard', shardId, role: topology.role, status: 'active' },
        'attribute_not_exists(pk)',
      ));
    const known = new Map(previous.map((n) => [n.nodeId, n]));
    const now = this.table.now();
    const listed = await Promise.all(
      topology.nodes.map(async (node): Promise<NodeRecord> => {
        const key = keys.node(shardId, node.nodeId);
        const identity = { type: 'node', shardId, nodeId: node.nodeId, endpoint: node.endpoint };
        const existing = known.get(node.nodeId);
        if (!existing) {
          const created = await this.table.write<NodeRecord>(key, {
            set: {
              ...identity,
              status: shardCreated ? 'active' : 'joining',
              consecutiveFailures: 0,
              ...(shardCreated ? {} : workEntry(WORK.nodeJoining, now, shardId, node.nodeId)),
            },
            condition: 'attribute_not_exists(pk)',
          });
          if (created.written) return created.item;
        } else if (existing.endpoint === node.endpoint) return existing;
        // Known (or created meanwhile by another writer): only the endpoint follows Citrus.
        const moved = await this.table.write<NodeRecord>(key, {
          set: identity,
          condition: '#endpoint <> :endpoint',
          values: { ':endpoint': node.endpoint },
        });
        return moved.written ? moved.item : (moved.current ?? (existing as NodeRecord));
      }),
    );
    const unlisted = previous.filter((n) => !topology.nodes.some((l) => l.nodeId === n.nodeId));
    return { shardCreated, previous, nodes: [...listed, ...unlisted] };
  }

  /**
   * Takes the lease and marks the shard `converging` (off the failed-shard work list), returning
   * the shard as written; a lost race returns it as it was: held by another job, or unknown.
   */
  async acquireLease(shardId: string, owner: string, leaseMs: number): Promise<LeaseResult> {
    const now = this.table.clock();
    const result = await this.table.write<ShardRecord>(keys.shard(shardId), {
      set: {
        status: 'converging',
        leaseOwner: owner,
        leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
      },
      remove: WORK_ATTRIBUTES,
      condition:
        'attribute_exists(pk) AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :at OR #leaseOwner = :owner)',
      values: { ':at': now.toISOString(), ':owner': owner },
    });
    if (result.written) return { outcome: 'acquired', shard: result.item };
    return { outcome: result.current ? 'held' : 'unknown' };
  }

  async releaseLease(shardId: string, owner: string) {
    await this.table.update(keys.shard(shardId), {
      remove: ['leaseOwner', 'leaseUntil'],
      condition: '#leaseOwner = :owner',
      values: { ':owner': owner },
    });
  }

  clearLease(shardId: string) {
    return this.table.update(keys.shard(shardId), {
      remove: ['leaseOwner', 'leaseUntil'],
      condition: 'attribute_exists(pk)',
    });
  }

  async finishConvergence(
    shardId: string,
    owner: string,
    status: 'active' | 'failed',
    details: { lastError?: string; lastConvergedAt: string },
  ) {
    const failed = status === 'failed';
    await this.table.update(keys.shard(shardId), {
      set: {
        status,
        lastConvergedAt: details.lastConvergedAt,
        lastError: details.lastError ? truncate(details.lastError) : undefined,
        ...(failed ? workEntry(WORK.shardFailed, this.table.now(), shardId) : {}),
      },
      remove: [
        'leaseOwner',
        'leaseUntil',
        ...(details.lastError ? [] : ['lastError']),
        ...(failed ? [] : WORK_ATTRIBUTES),
      ],
      // A job whose lease expired and was taken over leaves the verdict to the new holder.
      condition: '#leaseOwner = :owner',
      values: { ':owner': owner },
    });
  }

  async listFailed() {
    const items = await this.table.query<{ shardId: string }>(workDueQuery(WORK.shardFailed));
    return items.map((item) => item.shardId);
  }
}
