// DynamoDB records (CONTRACTS §7) and their keys. Pure data: no SDK here.

export type LocationStatus = 'registering' | 'active' | 'failed';
export type ShardStatus = 'provisioning' | 'converging' | 'active' | 'failed';
export type NodeStatus = 'joining' | 'active' | 'pending_sync' | 'error' | 'decommissioned';
export type ResourceStatus = 'active' | 'deleting' | 'deleted';
export type WorkspaceStatus = 'pending_placement' | 'active' | 'deleted';

interface Versioned {
  pk: string;
  sk: string;
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

export const keys = {
  location: (businessId: string, locationId: string) => ({
    pk: `LOC#${businessId}#${locationId}`,
    sk: 'META',
  }),
  shard: (shardId: string) => ({ pk: `SHARD#${shardId}`, sk: 'META' }),
  node: (shardId: string, nodeId: string) => ({ pk: `SHARD#${shardId}`, sk: `NODE#${nodeId}` }),
  schema: (shardId: string, businessId: string, locationId: string) => ({
    pk: `SHARD#${shardId}`,
    sk: `RES#schema#${businessId}#${locationId}`,
  }),
  store: (shardId: string, workspaceId: string) => ({
    pk: `SHARD#${shardId}`,
    sk: `RES#store#${workspaceId}`,
  }),
  workspace: (workspaceId: string) => ({ pk: `WS#${workspaceId}`, sk: 'META' }),
  nodePrefix: 'NODE#',
  anyResourcePrefix: 'RES#',
  resourcePrefix: (kind: 'schema' | 'store') => `RES#${kind}#`,
} as const;

/**
 * Sparse `work` index: only records that need the sweep's attention carry `workPk`, so a
 * quiet fleet costs one empty Query per kind. `workSk` sorts by when work is due.
 */
export const WORK = {
  nodePendingSync: 'node#pending_sync',
  nodeJoining: 'node#joining',
  nodeError: 'node#error',
  shardFailed: 'shard#failed',
  workspacePendingPlacement: 'workspace#pending_placement',
} as const;
export type WorkKind = (typeof WORK)[keyof typeof WORK];

/** Which work-index partition a node in `status` belongs to, if any. */
export function nodeWork(status: NodeStatus): WorkKind | undefined {
  switch (status) {
    case 'pending_sync':
      return WORK.nodePendingSync;
    case 'joining':
      return WORK.nodeJoining;
    case 'error':
      return WORK.nodeError;
    default:
      return undefined;
  }
}

/** Statuses whose nodes receive pushes; decommissioned nodes never do. */
export const PUSHABLE_NODE_STATUSES: readonly NodeStatus[] = [
  'joining',
  'active',
  'pending_sync',
  'error',
];

/** Truncates an error summary so items and attributes stay small (flow 4: 4,000 characters). */
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
