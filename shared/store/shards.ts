import type { LeaseResult, ShardStore, ShardTopology } from '../domain/ports.ts';
import { type ShardRecord, truncate } from '../domain/records.ts';
import { keys, WORK, WORK_ATTRIBUTES, workDueQuery, workEntry } from './schema.ts';
import type { Table } from './table.ts';

/** Shards: their record, the nodes Citrus gave them, and the per-shard convergence lease. */
export class Shards implements ShardStore {
  constructor(private readonly table: Table) {}

  get(shardId: string) {
    return this.table.get<ShardRecord>(keys.shard(shardId));
  }

  /**
   * Records a shard and its nodes as Citrus describes them. A shard seen for the first time
   * is `active` with `active` nodes (nothing to catch up on); nodes new to a known shard
   * start `joining` so that convergence brings them every existing resource.
   */
  async recordTopology(topology: ShardTopology): Promise<{ shardCreated: boolean }> {
    const { shardId } = topology;
    const shardCreated = await this.table.put(
      { ...keys.shard(shardId), type: 'shard', shardId, role: topology.role, status: 'active' },
      'attribute_not_exists(pk)',
    );
    const status = shardCreated ? 'active' : 'joining';
    const now = this.table.now();
    await Promise.all(
      topology.nodes.map(async (node) => {
        const key = keys.node(shardId, node.nodeId);
        const identity = { type: 'node', shardId, nodeId: node.nodeId, endpoint: node.endpoint };
        const created = await this.table.update(key, {
          set: {
            ...identity,
            status,
            consecutiveFailures: 0,
            ...(shardCreated ? {} : workEntry(WORK.nodeJoining, now, shardId, node.nodeId)),
          },
          condition: 'attribute_not_exists(pk)',
        });
        // A known node keeps its status; only its endpoint follows Citrus. Written only when
        // it moved: every shard.create records its shard's topology, and a version bump here
        // would make a running convergence discard its node results.
        if (!created)
          await this.table.update(key, {
            set: identity,
            condition: '#endpoint <> :endpoint',
            values: { ':endpoint': node.endpoint },
          });
      }),
    );
    return { shardCreated };
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
