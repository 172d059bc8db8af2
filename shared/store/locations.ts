import type { SchemaSpec } from '../contracts/node-agent.ts';
import type { ClaimResult, LocationRef, LocationStore } from '../domain/ports.ts';
import { type CitrusAssignment, type LocationRecord, truncate } from '../domain/records.ts';
import { keys } from './schema.ts';
import type { Table } from './table.ts';

const keyOf = (location: LocationRef) => keys.location(location.businessId, location.locationId);

/** Assignments remembered per store instance (a warm function); bounded, cleared when full. */
const MAX_REMEMBERED = 50_000;

/** Business locations: a registration claim, then the shard assignment Citrus gave them. */
export class Locations implements LocationStore {
  readonly #shardOf = new Map<string, string>();

  constructor(private readonly table: Table) {}

  /** The location, if a shard.create has recorded it (not just a workspace's note). */
  async get(location: LocationRef) {
    const record = await this.table.get<LocationRecord>(keyOf(location));
    return record?.status ? record : undefined;
  }

  /**
   * An assignment never changes once made (a location is never moved or deleted), so it is
   * read once per location and remembered; an unregistered location is read every time.
   */
  async shardOf(location: LocationRef) {
    const key = keyOf(location).pk;
    const known = this.#shardOf.get(key);
    if (known) return known;
    const record = await this.get(location);
    const shardId = record?.status === 'active' ? record.shardId : undefined;
    if (shardId) {
      if (this.#shardOf.size >= MAX_REMEMBERED) this.#shardOf.clear();
      this.#shardOf.set(key, shardId);
    }
    return shardId;
  }

  /**
   * Claims a location for registration, so that two deliveries of the same location (same
   * batch or concurrent invocations) call Citrus once. A claim expires after `leaseMs`, so a
   * crashed holder does not block retries for long. A lost claim returns the item as it was,
   * so a registered location reports its assignment without a second read.
   */
  async claim(location: SchemaSpec, owner: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.table.clock();
    const result = await this.table.write<LocationRecord>(keyOf(location), {
      set: {
        type: 'location',
        businessId: location.businessId,
        locationId: location.locationId,
        businessType: location.businessType,
        status: 'registering',
        claimedBy: owner,
        claimUntil: new Date(now.getTime() + leaseMs).toISOString(),
      },
      // No status yet: no location, or only a workspace's note that it waits for one.
      condition:
        'attribute_not_exists(#status) OR (#status <> :active AND (attribute_not_exists(#claimUntil) OR #claimUntil < :at OR #claimedBy = :owner))',
      values: { ':active': 'active', ':at': now.toISOString(), ':owner': owner },
    });
    if (result.written) {
      const registeredAs = result.item?.registeredAs;
      return registeredAs ? { outcome: 'claimed', registeredAs } : { outcome: 'claimed' };
    }
    const current = result.current;
    if (current?.status === 'active' && current.shardId && current.shardKey) {
      return {
        outcome: 'assigned',
        shardId: current.shardId,
        shardKey: current.shardKey,
        workspacesWaiting: current.workspacesWaiting === true,
      };
    }
    return { outcome: 'busy' };
  }

  /**
   * Records the assignment last: once it is there, a redelivery skips Citrus. The item as
   * written tells whether a workspace noted that it waits (`awaitPlacement`).
   */
  async complete(location: LocationRef, assignment: CitrusAssignment) {
    const result = await this.table.write<LocationRecord>(keyOf(location), {
      set: { status: 'active', shardId: assignment.shardId, shardKey: assignment.shardKey },
      remove: ['claimedBy', 'claimUntil', 'lastError', 'registeredAs'],
    });
    return { workspacesWaiting: result.written && result.item.workspacesWaiting === true };
  }

  /**
   * Notes that a workspace waits for this location (creating a bare item, without status, if
   * no shard.create has come yet) and returns the shard it has by now. One atomic update of the
   * item `complete` writes: whichever of the two comes second sees the other.
   */
  async awaitPlacement(location: LocationRef) {
    const result = await this.table.write<LocationRecord>(keyOf(location), {
      set: { workspacesWaiting: true },
    });
    return result.written && result.item.status === 'active' ? result.item.shardId : undefined;
  }

  async fail(location: LocationRef, reason: string) {
    await this.table.update(keyOf(location), {
      set: { status: 'failed', lastError: truncate(reason) },
      remove: ['claimedBy', 'claimUntil'],
      condition: 'attribute_not_exists(#status) OR #status <> :active',
      values: { ':active': 'active' },
    });
  }

  /**
   * Releases a claim after a transient failure so the retry need not wait for the lease; with
   * `registeredAs`, keeps Citrus' answer so the retry does not register the location again.
   */
  async release(location: LocationRef, owner: string, registeredAs?: CitrusAssignment) {
    await this.table.update(keyOf(location), {
      ...(registeredAs ? { set: { registeredAs } } : {}),
      remove: ['claimedBy', 'claimUntil'],
      condition: '#claimedBy = :owner',
      values: { ':owner': owner },
    });
  }
}
