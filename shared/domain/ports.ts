// What the domain needs from the outside world. Adapters implement these; tests fake them.
import type {
  ApplyResponse,
  SchemaApplyRequest,
  SchemaSpec,
  StoreApplyRequest,
} from '../contracts/node-agent.ts';
import type { NodeTransition } from './node-status.ts';
import type {
  LocationRecord,
  NodeRecord,
  ResourceRecord,
  ResourceStatus,
  ShardRecord,
  ShardStatus,
  WorkKind,
  WorkspaceRecord,
} from './records.ts';

export type ClaimResult =
  | { outcome: 'claimed' }
  | { outcome: 'assigned'; shardId: string; shardKey: string }
  | { outcome: 'busy' };

export interface ShardTopology {
  shardId: string;
  role: string;
  nodes: Array<{ nodeId: string; endpoint: string }>;
}

export interface LocationRef {
  businessId: string;
  locationId: string;
}

export interface WorkspaceEvent {
  workspaceId: string;
  userId: string;
  businessId: string;
  locationId: string;
  deleted: boolean;
  occurredAt: string;
  /** Total order of events per workspace: occurredAt, then delete after create. */
  eventKey: string;
}

export type WorkspaceWrite =
  | { outcome: 'applied'; record: WorkspaceRecord }
  | { outcome: 'stale'; record: WorkspaceRecord };

export interface StateStore {
  getLocation(businessId: string, locationId: string): Promise<LocationRecord | undefined>;
  claimLocation(location: SchemaSpec, owner: string, leaseMs: number): Promise<ClaimResult>;
  completeLocation(
    location: LocationRef,
    assignment: { shardId: string; shardKey: string },
  ): Promise<void>;
  failLocation(location: LocationRef, reason: string): Promise<void>;
  releaseLocation(location: LocationRef, owner: string): Promise<void>;
  recordTopology(topology: ShardTopology): Promise<{ shardCreated: boolean }>;
  putSchemaResource(shardId: string, schema: SchemaSpec): Promise<void>;
  listNodes(shardId: string): Promise<NodeRecord[]>;
  markNodePendingSync(shardId: string, nodeId: string, reason: string): Promise<boolean>;

  getWorkspace(workspaceId: string): Promise<WorkspaceRecord | undefined>;
  /** Applies the event unless a newer one is already recorded (conditional write). */
  recordWorkspaceEvent(
    event: WorkspaceEvent,
    shardId: string | undefined,
    tombstoneTtlSeconds: number,
  ): Promise<WorkspaceWrite>;
  /** Desired store on a shard; ignored when a newer event already wrote it. */
  putStoreResource(
    shardId: string,
    workspaceId: string,
    status: ResourceStatus,
    eventKey: string,
  ): Promise<boolean>;
  listPendingWorkspaces(location: LocationRef): Promise<WorkspaceRecord[]>;
  /** Moves a pending workspace onto its shard, unless a newer event changed it meanwhile. */
  placeWorkspace(workspaceId: string, shardId: string, eventKey: string): Promise<boolean>;
}

export interface CitrusPort {
  register(location: SchemaSpec): Promise<{ shardKey: string; shardId: string }>;
  getShard(shardKey: string): Promise<ShardTopology>;
}

export type NodeOutcome =
  | { nodeId: string; ok: true }
  | { nodeId: string; ok: false; error: string };

/** Runs one node operation on every given node (bounded parallel); never throws. */
export type NodeFanOut = (
  nodes: NodeRecord[],
  operation: (endpoint: string) => Promise<unknown>,
) => Promise<NodeOutcome[]>;

export interface NodeOperations {
  putSchema(endpoint: string, schema: SchemaSpec): Promise<unknown>;
  putStore(endpoint: string, storeId: string): Promise<unknown>;
  deleteStore(endpoint: string, storeId: string): Promise<unknown>;
}

export interface DomainPorts {
  state: StateStore;
  citrus: CitrusPort;
  nodes: NodeOperations;
  fanOut: NodeFanOut;
}

export type LeaseResult = 'acquired' | 'held' | 'unknown';

/** What convergence (flow 4) needs from the state store. */
export interface ConvergenceStore {
  getShard(shardId: string): Promise<ShardRecord | undefined>;
  acquireShardLease(shardId: string, owner: string, leaseMs: number): Promise<LeaseResult>;
  releaseShardLease(shardId: string, owner: string): Promise<void>;
  setShardStatus(
    shardId: string,
    status: ShardStatus,
    details?: { lastError?: string; lastConvergedAt?: string },
  ): Promise<void>;
  listNodes(shardId: string): Promise<NodeRecord[]>;
  listResources(shardId: string): Promise<ResourceRecord[]>;
  /**
   * Records one convergence attempt on a node, only if the node record is still the version
   * the convergence read (false otherwise: someone changed the node meanwhile, and theirs is
   * the newer word).
   */
  recordNodeAttempt(
    node: Pick<NodeRecord, 'shardId' | 'nodeId' | 'version'>,
    transition: NodeTransition,
    orphans?: Record<string, Record<string, string>>,
  ): Promise<boolean>;
}

/** The node agent calls a convergence makes. */
export interface NodeAgentPort {
  health(endpoint: string): Promise<unknown>;
  listSchemas(endpoint: string): Promise<SchemaSpec[]>;
  listStores(endpoint: string): Promise<string[]>;
  apply(endpoint: string, kind: 'schemas', request: SchemaApplyRequest): Promise<ApplyResponse>;
  apply(endpoint: string, kind: 'stores', request: StoreApplyRequest): Promise<ApplyResponse>;
}

export interface SweepState {
  sweepCount: number;
  /** Where the previous sweep stopped paging Citrus when it ran out of time. */
  cursor?: string;
  lastSuccessAt?: string;
}

export interface SweepSummary {
  sweepCount: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  complete: boolean;
  cursor?: string;
  fullVerify: boolean;
  counts: Record<string, number>;
  jobs: number;
  errors: string[];
}

/** What a reconciliation sweep (flow 3) needs from the state store. */
export interface SweepStore
  extends Pick<
      StateStore,
      'getLocation' | 'listNodes' | 'recordTopology' | 'placeWorkspace' | 'putStoreResource'
    >,
    Pick<ConvergenceStore, 'getShard'> {
  getSweepState(): Promise<SweepState>;
  loadTopologyDigests(): Promise<Map<string, string>>;
  saveTopologyDigests(
    digests: ReadonlyMap<string, string>,
    changedShards: readonly string[],
  ): Promise<void>;
  setNodeMembership(
    shardId: string,
    nodeId: string,
    status: 'joining' | 'decommissioned',
  ): Promise<boolean>;
  listWork(kind: WorkKind, dueBy?: Date): Promise<Array<Record<string, unknown>>>;
  retryErroredNode(shardId: string, nodeId: string): Promise<boolean>;
  writeSweepSummary(summary: SweepSummary, historyTtlSeconds: number): Promise<void>;
}
