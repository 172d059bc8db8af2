// The records of the state, as the domain sees them: no keys, no SDK, no index attributes.

export type LocationStatus = 'registering' | 'active' | 'failed';
export type ShardStatus = 'provisioning' | 'converging' | 'active' | 'failed';
export type NodeStatus = 'joining' | 'active' | 'pending_sync' | 'error' | 'decommissioned';
export type ResourceStatus = 'active' | 'deleting' | 'deleted';
export type WorkspaceStatus = 'pending_placement' | 'active' | 'deleted';

interface Versioned {
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface LocationRecord extends Versioned {
  businessId: string;
  locationId: string;
  businessType: string;
  status: LocationStatus;
  shardKey?: string;
  shardId?: string;
  lastError?: string;
  claimedBy?: string;
  claimUntil?: string;
  /**
   * Citrus' answer to the registration, kept when a later step of it failed, so the retry
   * looks the shard up instead of registering again. Not an assignment until `status` is
   * `active` (then `shardKey`/`shardId` hold it).
   */
  registeredAs?: CitrusAssignment;
  /**
   * A workspace of this location was recorded before its assignment (`pending_placement`):
   * shard creation then looks for such workspaces, and only then.
   */
  workspacesWaiting?: boolean;
}

export interface CitrusAssignment {
  shardKey: string;
  shardId: string;
}

export interface ShardRecord extends Versioned {
  shardId: string;
  role: string;
  status: ShardStatus;
  lastError?: string;
  lastConvergedAt?: string;
  leaseOwner?: string;
  leaseUntil?: string;
}

export interface NodeRecord extends Versioned {
  shardId: string;
  nodeId: string;
  endpoint: string;
  status: NodeStatus;
  lastSyncAt?: string;
  lastAttemptAt?: string;
  consecutiveFailures?: number;
  lastError?: string;
  nextAttemptAt?: string;
  /** Orphans seen on the node and still in their grace period: kind -> id -> first seen. */
  orphans?: Record<string, Record<string, string>>;
}

/** Statuses whose nodes receive pushes; decommissioned nodes never do. */
export const PUSHABLE_NODE_STATUSES: readonly NodeStatus[] = [
  'joining',
  'active',
  'pending_sync',
  'error',
];

/** Truncates an error summary so items and attributes stay small (4,000 characters). */
export function truncate(text: string, max = 4000): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface WorkspaceRecord extends Versioned {
  workspaceId: string;
  userId: string;
  businessId: string;
  locationId: string;
  shardId?: string;
  status: WorkspaceStatus;
  lastEventAt: string;
  lastEventKey: string;
  /** The newest event whose push to the nodes is done (a redelivery of it is a no-op). */
  pushedKey?: string;
  expiresAt?: number;
}

export interface ResourceRecord extends Versioned {
  shardId: string;
  kind: 'schema' | 'store';
  status: ResourceStatus;
  businessId?: string;
  locationId?: string;
  businessType?: string;
  workspaceId?: string;
  eventKey?: string;
}
