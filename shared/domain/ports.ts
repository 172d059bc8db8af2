// What the domain needs from the outside world. Adapters implement these; tests fake them.
import type {
  ApplyResponse,
  SchemaApplyRequest,
  SchemaSpec,
  StoreApplyRequest,
} from '../contracts/node-agent.ts';
import type { NodeTransition } from './node-status.ts';
import type {
  CitrusAssignment,
  LocationRecord,
  NodeRecord,
  ResourceRecord,
  ResourceStatus,
  ShardRecord,
  WorkspaceRecord,
} from './records.ts';
import type { AbsenceMemory, DeletionOutcome, DriftCounts, HeldDeletion } from './source-sync.ts';

export type ClaimResult =
  /** `registeredAs`: Citrus already answered an earlier delivery (see LocationRecord). */
  | { outcome: 'claimed'; registeredAs?: CitrusAssignment }
  | { outcome: 'assigned'; shardId: string; shardKey: string; workspacesWaiting: boolean }
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

export interface WorkspaceChange {
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
  | { outcome: 'stale'; record: WorkspaceRecord }
  /** The same event again, already applied and pushed: nothing to do. */
  | { outcome: 'done'; record: WorkspaceRecord };

/** Locations: registration claims and shard assignments. */
export interface LocationStore {
  get(location: LocationRef): Promise<LocationRecord | undefined>;
  /** The shard of a registered location (an assignment never changes once made). */
  shardOf(location: LocationRef): Promise<string | undefined>;
  /** Claims a location for registration, so two deliveries of it call Citrus once. */
  claim(location: SchemaSpec, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Records the assignment; says whether a workspace has waited for the location. */
  complete(
    location: LocationRef,
    assignment: CitrusAssignment,
  ): Promise<{ workspacesWaiting: boolean }>;
  /**
   * Notes on the location that a workspace waits for it, and returns its shard if it has one
   * by now. Either this sees the assignment or `complete` sees the note: one of the two
   * places the workspace.
   */
  awaitPlacement(location: LocationRef): Promise<string | undefined>;
  fail(location: LocationRef, reason: string): Promise<void>;
  release(location: LocationRef, owner: string, registeredAs?: CitrusAssignment): Promise<void>;
}

export interface TopologyRecord {
  shardCreated: boolean;
  /** The shard's nodes as they were recorded before. */
  previous: NodeRecord[];
  /** Its nodes as recorded now (Citrus's, then any it no longer lists). */
  nodes: NodeRecord[];
}

export type LeaseResult =
  | { outcome: 'acquired'; shard: ShardRecord }
  | { outcome: 'held' }
  | { outcome: 'unknown' };

/** Shards: their record, the nodes Citrus gave them, and the convergence lease. */
export interface ShardStore {
  get(shardId: string): Promise<ShardRecord | undefined>;
  /**
   * Records a shard and its nodes as Citrus describes them: a new shard starts `active` with
   * `active` nodes; nodes new to a known shard start `joining`; a known node only follows its
   * endpoint.
   */
  recordTopology(topology: ShardTopology): Promise<TopologyRecord>;
  /** Takes the convergence lease and marks the shard `converging`, returning it. */
  acquireLease(shardId: string, owner: string, leaseMs: number): Promise<LeaseResult>;
  /** Gives the lease back without a verdict (the job failed and will be retried). */
  releaseLease(shardId: string, owner: string): Promise<void>;
  /** Operator override: drops a lease whoever holds it. */
  clearLease(shardId: string): Promise<boolean>;
  /** Records the convergence's verdict and gives the lease back, in one write. */
  finishConvergence(
    shardId: string,
    owner: string,
    status: 'active' | 'failed',
    details: { lastError?: string; lastConvergedAt: string },
  ): Promise<void>;
  /** Shards left `failed` by their last convergence. */
  listFailed(): Promise<string[]>;
}

export interface NodeRef {
  shardId: string;
  nodeId: string;
}

/** One convergence attempt on a node, to be recorded. */
export interface NodeAttempt {
  /** The node as the convergence read it. */
  node: NodeRef & { version: number };
  transition: NodeTransition;
  orphans?: Record<string, Record<string, string>>;
}

/**
 * Why a node needs the sweep's attention: it is `joining`, `pending_sync` or in `error`, or it
 * is active with orphans whose grace ends (`follow_up`).
 */
export type NodeWork = 'joining' | 'pending_sync' | 'error' | 'follow_up';

/** The nodes of each shard and their sync status. */
export interface NodeStore {
  list(shardId: string): Promise<NodeRecord[]>;
  /**
   * An event-driven push to the node failed: it needs a convergence pass. Nodes in `error`
   * keep their backoff; decommissioned nodes stay out of it.
   */
  markPendingSync(shardId: string, nodeId: string, reason: string): Promise<boolean>;
  /**
   * Records convergence attempts, each only if its node record is still the version the
   * convergence read: per attempt, whether it was written (false: someone changed the node
   * meanwhile, and theirs is the newer word). Rejects when one could not be recorded.
   */
  recordAttempts(attempts: readonly NodeAttempt[]): Promise<boolean[]>;
  setMembership(
    shardId: string,
    nodeId: string,
    status: 'joining' | 'decommissioned',
  ): Promise<boolean>;
  /** A node in `error` gets one more try (its backoff passed): back to `pending_sync`. */
  retryErrored(shardId: string, nodeId: string): Promise<boolean>;
  /** Nodes with this kind of work, due by `dueBy` when given (an error's backoff, a follow-up). */
  listNeedingWork(
    work: NodeWork,
    dueBy?: Date,
  ): Promise<Array<NodeRef & { nextAttemptAt?: string }>>;
}

/** The desired resources of each shard (schemas and stores). */
export interface ResourceStore {
  putSchema(shardId: string, schema: SchemaSpec): Promise<void>;
  /** Desired store on a shard; ignored (false) when a newer event already wrote it. */
  putStore(
    shardId: string,
    workspaceId: string,
    status: ResourceStatus,
    eventKey: string,
  ): Promise<boolean>;
  list(shardId: string): Promise<ResourceRecord[]>;
}

/** Workspaces: their newest event and their placement on a shard. */
export interface WorkspaceStore {
  get(workspaceId: string): Promise<WorkspaceRecord | undefined>;
  /**
   * Applies the event unless a newer one is already recorded, or this one was already applied
   * and pushed (conditional write).
   */
  recordEvent(event: WorkspaceChange, shardId: string | undefined): Promise<WorkspaceWrite>;
  /**
   * Records that the event's push is done, unless a newer event landed meanwhile: then that
   * newer record is returned (it must be pushed too).
   */
  markPushed(workspaceId: string, eventKey: string): Promise<WorkspaceRecord | undefined>;
  /** Workspaces waiting for this location's shard. */
  listPendingAt(location: LocationRef): Promise<WorkspaceRecord[]>;
  /** Every workspace waiting for placement. */
  listPendingPlacement(): Promise<WorkspaceRecord[]>;
  /** Moves a pending workspace onto its shard, unless a newer event changed it meanwhile. */
  place(workspaceId: string, shardId: string, eventKey: string): Promise<boolean>;
}

/** What the sweeps remember between runs. */
export interface SweepStateStore {
  get(): Promise<SweepState>;
  writeSummary(summary: SweepSummary): Promise<void>;
  /** Each known shard's topology digest. */
  loadTopologyDigests(): Promise<Map<string, string>>;
  saveTopologyDigests(
    digests: ReadonlyMap<string, string>,
    changedShards: readonly string[],
  ): Promise<void>;
}

/** Every store of the state table. */
export interface Stores {
  locations: LocationStore;
  shards: ShardStore;
  nodes: NodeStore;
  resources: ResourceStore;
  workspaces: WorkspaceStore;
  sweeps: SweepStateStore;
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
  stores: Stores;
  citrus: CitrusPort;
  agent: NodeOperations;
  fanOut: NodeFanOut;
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

/** Where a source-sync run stopped listing when its time ran out; the next run resumes there. */
export interface SourceCursor {
  /** The run was a full one (it lists everything after its incremental listings). */
  full: boolean;
  /** The listing being resumed is the full one (else an incremental one). */
  snapshot?: boolean;
  listing: 'locations' | 'workspaces';
  cursor: string;
  /** asOf of the listing being resumed. */
  asOf: string;
  updatedSince?: string;
  /** Earliest asOf of the incremental listings this pass already finished. */
  incrementalAsOf?: string;
}

export interface SourceSyncState {
  runCount: number;
  /** asOf of the last incremental listing read to its end: the next one starts just before. */
  asOf?: string;
  cursor?: SourceCursor;
  lastSuccessAt?: string;
}

export interface SourceSyncSummary {
  runCount: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  full: boolean;
  /** Every listing of the run was read to its last page. */
  complete: boolean;
  asOf?: string;
  cursor?: SourceCursor;
  /** Repairs planned, by kind of drift. */
  counts: DriftCounts;
  repairsSent: number;
  repairsFailed: number;
  /** What a full snapshot did about deletions inferred from absence. */
  deletions?: DeletionOutcome;
  /** Deletions newly held by the safety cap in this run. */
  held: number;
  /** Held deletions waiting for the operator after a complete full snapshot. */
  heldTotal?: number;
  /** Absent workspaces still within the grace period. */
  waiting: number;
  errors: string[];
}

/** What source reconciliation remembers between runs (SOURCE records). */
export interface SourceStateStore {
  get(): Promise<SourceSyncState>;
  writeSummary(summary: SourceSyncSummary): Promise<void>;
  /** Absent workspaces and held deletions (full snapshots only). */
  loadAbsence(): Promise<AbsenceMemory>;
  /** Replaces the absence memory, rewriting only what changed since `previous`. */
  saveAbsence(
    absence: ReadonlyMap<string, string>,
    previous: ReadonlyMap<string, string>,
  ): Promise<void>;
  hold(deletions: readonly HeldDeletion[]): Promise<void>;
  listHeld(): Promise<HeldDeletion[]>;
  /** Drops held deletions (released by the operator, or no longer due). */
  release(workspaceIds: readonly string[]): Promise<void>;
}
