import type { SchemaSpec } from '../contracts/node-agent.ts';
import type { ResourceStore } from '../domain/ports.ts';
import type { ResourceRecord, ResourceStatus } from '../domain/records.ts';
import { expiresAt, keys, shardPartition, TTL_ATTRIBUTE, TTL_SECONDS } from './schema.ts';
import type { Table } from './table.ts';

/** The desired resources of each shard: one schema per location, one store per workspace. */
export class Resources implements ResourceStore {
  constructor(private readonly table: Table) {}

  /** Idempotent: the schema of a business location is desired on its shard. */
  async putSchema(shardId: string, schema: SchemaSpec) {
    await this.table.update(keys.schema(shardId, schema.businessId, schema.locationId), {
      set: {
        type: 'resource',
        kind: 'schema',
        shardId,
        businessId: schema.businessId,
        locationId: schema.locationId,
        businessType: schema.businessType,
        status: 'active',
      },
    });
  }

  putStore(shardId: string, workspaceId: string, status: ResourceStatus, eventKey: string) {
    // A deleted store's record is a tombstone that expires like the workspace's; a copy still
    // on a node after that is an orphan and is removed after the grace period anyway.
    const active = status === 'active';
    return this.table.update(keys.store(shardId, workspaceId), {
      set: {
        type: 'resource',
        kind: 'store',
        shardId,
        workspaceId,
        status,
        eventKey,
        [TTL_ATTRIBUTE]: active ? undefined : expiresAt(this.table.clock(), TTL_SECONDS.tombstone),
      },
      remove: active ? [TTL_ATTRIBUTE] : [],
      condition: 'attribute_not_exists(#eventKey) OR #eventKey <= :eventKey',
      values: { ':eventKey': eventKey },
    });
  }

  list(shardId: string) {
    return this.table.queryPrefix<ResourceRecord>(
      shardPartition.pk(shardId),
      shardPartition.resources,
    );
  }
}
