import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ReturnValue,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { NodeTransition } from '../domain/node-status.ts';
import type {
  ClaimResult,
  ConvergenceStore,
  LeaseResult,
  LocationRef,
  ShardTopology,
  StateStore,
  SweepState,
  SweepStore,
  SweepSummary,
  WorkspaceEvent,
  WorkspaceWrite,
} from '../domain/ports.ts';
import {
  keys,
  type LocationRecord,
  type NodeRecord,
  type NodeStatus,
  nodeWork,
  type ResourceRecord,
  type ResourceStatus,
  type ShardRecord,
  type ShardStatus,
  truncate,
  WORK,
  type WorkKind,
  type WorkspaceRecord,
} from '../domain/records.ts';
import { TOMBSTONE_TTL_SECONDS } from '../domain/workspace-lifecycle.ts';

type Key = { pk: string; sk: string };
type Values = Record<string, unknown>;

interface UpdateSpec {
  set?: Values;
  remove?: string[];
  condition?: string;
  values?: Values;
}

/**
 * Builds an UpdateItem that also maintains `version`, `createdAt` and `updatedAt`. Attribute
 * names are always aliased (`#a_status`) so reserved words never bite.
 */
function buildUpdate(spec: UpdateSpec, now: string) {
  const names: Record<string, string> = {};
  const values: Values = { ':v_one': 1, ':v_zero': 0, ':v_now': now, ...spec.values };
  const alias = (attribute: string) => {
    names[`#a_${attribute}`] = attribute;
    return `#a_${attribute}`;
  };
  const sets = [
    `${alias('version')} = if_not_exists(${alias('version')}, :v_zero) + :v_one`,
    `${alias('updatedAt')} = :v_now`,
    `${alias('createdAt')} = if_not_exists(${alias('createdAt')}, :v_now)`,
  ];
  for (const [attribute, value] of Object.entries(spec.set ?? {})) {
    if (value === undefined) continue;
    values[`:s_${attribute}`] = value;
    sets.push(`${alias(attribute)} = :s_${attribute}`);
  }
  let expression = `SET ${sets.join(', ')}`;
  if (spec.remove?.length) expression += ` REMOVE ${spec.remove.map(alias).join(', ')}`;
  // Conditions refer to attributes as #name; register the ones they use.
  for (const match of spec.condition?.matchAll(/#([A-Za-z]+)/g) ?? []) {
    names[`#${match[1]}`] = match[1] as string;
  }
  return {
    UpdateExpression: expression,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ConditionExpression: spec.condition,
  };
}

/** Topology digests live in this many items, so a sweep reads them all in one BatchGetItem. */
const TOPOLOGY_CHUNKS = 16;
const topologyChunk = (shardId: string) =>
  `CHUNK#${String(createHash('sha256').update(shardId).digest()[0]! % TOPOLOGY_CHUNKS).padStart(2, '0')}`;
const SWEEP_LAST = { pk: 'SWEEP', sk: 'LAST' };

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/**
 * The single-table repository (CONTRACTS §7). Single-item conditional writes only: no
 * transactions. Every write is safe to repeat, so a redelivered message converges.
 */
export class Repository implements StateStore, ConvergenceStore, SweepStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: () => Date;

  constructor(options: { tableName: string; client?: DynamoDBClient; clock?: () => Date }) {
    this.#db = DynamoDBDocumentClient.from(options.client ?? new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#table = options.tableName;
    this.#clock = options.clock ?? (() => new Date());
  }

  get tableName() {
    return this.#table;
  }

  #now() {
    return this.#clock().toISOString();
  }

  async #get<T>(key: Key): Promise<T | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return Item as T | undefined;
  }

  /** Whether the write happened (false: its condition did not hold). */
  async #update(key: Key, spec: UpdateSpec): Promise<boolean> {
    return (await this.#write(key, spec, ReturnValue.NONE)) !== undefined;
  }

  /** The item as written, or undefined when the condition did not hold. */
  async #updateReturning<T>(key: Key, spec: UpdateSpec): Promise<T | undefined> {
    return (await this.#write(key, spec, ReturnValue.ALL_NEW)) as T | undefined;
  }

  async #write(key: Key, spec: UpdateSpec, returnValues: ReturnValue) {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key,
          ReturnValues: returnValues,
          ...buildUpdate(spec, this.#now()),
        }),
      );
      return Attributes ?? {};
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Every item a Query returns, following LastEvaluatedKey. */
  async #queryAll<T>(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({ ...input, TableName: this.#table, ExclusiveStartKey: start }),
      );
      items.push(...((page.Items ?? []) as T[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  #queryPartition<T>(pk: string, skPrefix: string): Promise<T[]> {
    return this.#queryAll<T>({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
      ConsistentRead: true,
    });
  }

  getLocation(businessId: string, locationId: string) {
    return this.#get<LocationRecord>(keys.location(businessId, locationId));
  }

  /**
   * Claims a location for registration, so that two deliveries of the same location (same
   * batch or concurrent invocations) call Citrus once. A claim expires after `leaseMs`, so a
   * crashed holder does not block retries for long.
   */
  async claimLocation(
    location: { businessId: string; locationId: string; businessType: string },
    owner: string,
    leaseMs: number,
  ): Promise<ClaimResult> {
    const key = keys.location(location.businessId, location.locationId);
    const now = this.#clock();
    const claimed = await this.#update(key, {
      set: {
        type: 'location',
        businessId: location.businessId,
        locationId: location.locationId,
        businessType: location.businessType,
        status: 'registering',
        claimedBy: owner,
        claimUntil: new Date(now.getTime() + leaseMs).toISOString(),
      },
      condition:
        'attribute_not_exists(pk) OR (#status <> :active AND (attribute_not_exists(#claimUntil) OR #claimUntil < :at OR #claimedBy = :owner))',
      values: { ':active': 'active', ':at': now.toISOString(), ':owner': owner },
    });
    if (claimed) return { outcome: 'claimed' };
    const current = await this.getLocation(location.businessId, location.locationId);
    if (current?.status === 'active' && current.shardId && current.shardKey) {
      return { outcome: 'assigned', shardId: current.shardId, shardKey: current.shardKey };
    }
    return { outcome: 'busy' };
  }

  /** Records the assignment last: once it is there, a redelivery skips Citrus. */
  async completeLocation(
    location: { businessId: string; locationId: string },
    assignment: { shardId: string; shardKey: string },
  ): Promise<void> {
    await this.#update(keys.location(location.businessId, location.locationId), {
      set: { status: 'active', shardId: assignment.shardId, shardKey: assignment.shardKey },
      remove: ['claimedBy', 'claimUntil', 'lastError'],
    });
  }

  async failLocation(
    location: { businessId: string; locationId: string },
    reason: string,
  ): Promise<void> {
    await this.#update(keys.location(location.businessId, location.locationId), {
      set: { status: 'failed', lastError: truncate(reason) },
      remove: ['claimedBy', 'claimUntil'],
      condition: 'attribute_not_exists(#status) OR #status <> :active',
      values: { ':active': 'active' },
    });
  }

  /** Releases a claim after a transient failure so the retry need not wait for the lease. */
  async releaseLocation(
    location: { businessId: string; locationId: string },
    owner: string,
  ): Promise<void> {
    await this.#update(keys.location(location.businessId, location.locationId), {
      remove: ['claimedBy', 'claimUntil'],
      condition: '#claimedBy = :owner',
      values: { ':owner': owner },
    });
  }

  getShard(shardId: string) {
    return this.#get<ShardRecord>(keys.shard(shardId));
  }

  /**
   * Records a shard and its nodes as Citrus describes them. A shard seen for the first time
   * is `active` with `active` nodes (nothing to catch up on); nodes new to a known shard
   * start `joining` so that convergence brings them every existing resource.
   */
  async recordTopology(topology: ShardTopology): Promise<{ shardCreated: boolean }> {
    const now = this.#now();
    let shardCreated = true;
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...keys.shard(topology.shardId),
            type: 'shard',
            shardId: topology.shardId,
            role: topology.role,
            status: 'active',
            version: 1,
            createdAt: now,
            updatedAt: now,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      shardCreated = false;
    }
    const status: NodeStatus = shardCreated ? 'active' : 'joining';
    const work = nodeWork(status);
    await Promise.all(
      topology.nodes.map(async (node) => {
        const key = keys.node(topology.shardId, node.nodeId);
        const identity = {
          type: 'node',
          shardId: topology.shardId,
          nodeId: node.nodeId,
          endpoint: node.endpoint,
        };
        const created = await this.#update(key, {
          set: {
            ...identity,
            status,
            consecutiveFailures: 0,
            ...(work ? { workPk: work, workSk: `${now}#${topology.shardId}#${node.nodeId}` } : {}),
          },
          condition: 'attribute_not_exists(pk)',
        });
        // A known node keeps its status; only its endpoint follows Citrus. Written only when
        // it moved: every shard.create records its shard's topology, and a version bump here
        // would make a running convergence discard its node results (recordNodeAttempt).
        if (!created)
          await this.#update(key, {
            set: identity,
            condition: '#endpoint <> :endpoint',
            values: { ':endpoint': node.endpoint },
          });
      }),
    );
    return { shardCreated };
  }

  listNodes(shardId: string) {
    return this.#queryPartition<NodeRecord>(`SHARD#${shardId}`, keys.nodePrefix);
  }

  /** Desired state: the schema of a business location on its shard (idempotent). */
  async putSchemaResource(
    shardId: string,
    schema: { businessId: string; locationId: string; businessType: string },
  ) {
    await this.#update(keys.schema(shardId, schema.businessId, schema.locationId), {
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

  /**
   * An event-driven push to a node failed: the node needs a convergence pass. Nodes in
   * `error` keep their backoff; decommissioned nodes stay out of it.
   */
  async markNodePendingSync(shardId: string, nodeId: string, reason: string): Promise<boolean> {
    const now = this.#now();
    return this.#update(keys.node(shardId, nodeId), {
      set: {
        status: 'pending_sync',
        lastError: truncate(reason, 1000),
        lastAttemptAt: now,
        workPk: nodeWork('pending_sync'),
        workSk: `${now}#${shardId}#${nodeId}`,
      },
      condition: 'attribute_exists(pk) AND #status IN (:joining, :active, :pending)',
      values: { ':joining': 'joining', ':active': 'active', ':pending': 'pending_sync' },
    });
  }

  getWorkspace(workspaceId: string) {
    return this.#get<WorkspaceRecord>(keys.workspace(workspaceId));
  }

  async recordWorkspaceEvent(
    event: WorkspaceEvent,
    shardId: string | undefined,
    tombstoneTtlSeconds: number,
  ): Promise<WorkspaceWrite> {
    const key = keys.workspace(event.workspaceId);
    const placement = ['locationPk', 'locationSk', 'workPk', 'workSk'];
    const identity = {
      type: 'workspace',
      workspaceId: event.workspaceId,
      userId: event.userId,
      businessId: event.businessId,
      locationId: event.locationId,
      lastEventAt: event.occurredAt,
      lastEventKey: event.eventKey,
      ...(shardId ? { shardId } : {}),
    };
    let spec: UpdateSpec;
    if (event.deleted) {
      const expiresAt = Math.floor(this.#clock().getTime() / 1000) + tombstoneTtlSeconds;
      spec = { set: { ...identity, status: 'deleted', expiresAt }, remove: placement };
    } else if (shardId) {
      spec = { set: { ...identity, status: 'active' }, remove: [...placement, 'expiresAt'] };
    } else {
      spec = {
        set: {
          ...identity,
          status: 'pending_placement',
          locationPk: keys.location(event.businessId, event.locationId).pk,
          locationSk: key.pk,
          workPk: WORK.workspacePendingPlacement,
          workSk: `${event.occurredAt}#${event.workspaceId}`,
        },
        remove: ['expiresAt'],
      };
    }
    // Equal keys re-apply (a redelivery of the newest event must still push); older ones lose.
    spec.condition = 'attribute_not_exists(pk) OR #lastEventKey <= :eventKey';
    spec.values = { ':eventKey': event.eventKey };
    const record = await this.#updateReturning<WorkspaceRecord>(key, spec);
    if (record) return { outcome: 'applied', record };
    const current = await this.getWorkspace(event.workspaceId);
    if (!current)
      throw new Error(`workspace ${event.workspaceId} vanished during a conditional write`);
    return { outcome: 'stale', record: current };
  }

  putStoreResource(shardId: string, workspaceId: string, status: ResourceStatus, eventKey: string) {
    // A deleted store's record is a tombstone that expires like the workspace's; a copy still
    // on a node after that is an orphan and is removed after the grace period anyway.
    const expiresAt =
      status === 'active'
        ? undefined
        : Math.floor(this.#clock().getTime() / 1000) + TOMBSTONE_TTL_SECONDS;
    return this.#update(keys.store(shardId, workspaceId), {
      set: { type: 'resource', kind: 'store', shardId, workspaceId, status, eventKey, expiresAt },
      remove: expiresAt ? [] : ['expiresAt'],
      condition: 'attribute_not_exists(#eventKey) OR #eventKey <= :eventKey',
      values: { ':eventKey': eventKey },
    });
  }

  async listPendingWorkspaces(location: LocationRef): Promise<WorkspaceRecord[]> {
    const items = await this.#queryAll<WorkspaceRecord>({
      IndexName: 'byLocation',
      KeyConditionExpression: 'locationPk = :pk',
      ExpressionAttributeValues: {
        ':pk': keys.location(location.businessId, location.locationId).pk,
      },
    });
    // The index is eventually consistent: the record itself decides.
    return items.filter((w) => w.status === 'pending_placement');
  }

  placeWorkspace(workspaceId: string, shardId: string, eventKey: string) {
    return this.#update(keys.workspace(workspaceId), {
      set: { status: 'active', shardId },
      remove: ['locationPk', 'locationSk', 'workPk', 'workSk'],
      condition: '#status = :pending AND #lastEventKey = :eventKey',
      values: { ':pending': 'pending_placement', ':eventKey': eventKey },
    });
  }

  async acquireShardLease(shardId: string, owner: string, leaseMs: number): Promise<LeaseResult> {
    const now = this.#clock();
    const acquired = await this.#update(keys.shard(shardId), {
      set: { leaseOwner: owner, leaseUntil: new Date(now.getTime() + leaseMs).toISOString() },
      condition:
        'attribute_exists(pk) AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :at OR #leaseOwner = :owner)',
      values: { ':at': now.toISOString(), ':owner': owner },
    });
    if (acquired) return 'acquired';
    return (await this.getShard(shardId)) ? 'held' : 'unknown';
  }

  async releaseShardLease(shardId: string, owner: string): Promise<void> {
    await this.#update(keys.shard(shardId), {
      remove: ['leaseOwner', 'leaseUntil'],
      condition: '#leaseOwner = :owner',
      values: { ':owner': owner },
    });
  }

  /** Operator override: drops a lease whoever holds it (a stale one also expires by itself). */
  async clearShardLease(shardId: string): Promise<boolean> {
    return this.#update(keys.shard(shardId), {
      remove: ['leaseOwner', 'leaseUntil'],
      condition: 'attribute_exists(pk)',
    });
  }

  async setShardStatus(
    shardId: string,
    status: ShardStatus,
    details: { lastError?: string; lastConvergedAt?: string } = {},
  ): Promise<void> {
    const now = this.#now();
    const failed = status === 'failed';
    await this.#update(keys.shard(shardId), {
      set: {
        status,
        ...(details.lastConvergedAt ? { lastConvergedAt: details.lastConvergedAt } : {}),
        ...(details.lastError ? { lastError: truncate(details.lastError) } : {}),
        ...(failed ? { workPk: WORK.shardFailed, workSk: `${now}#${shardId}` } : {}),
      },
      remove: [
        ...(details.lastError || status === 'converging' ? [] : ['lastError']),
        ...(failed ? [] : ['workPk', 'workSk']),
      ],
      condition: 'attribute_exists(pk)',
    });
  }

  listResources(shardId: string) {
    return this.#queryPartition<ResourceRecord>(`SHARD#${shardId}`, keys.anyResourcePrefix);
  }

  recordNodeAttempt(
    node: Pick<NodeRecord, 'shardId' | 'nodeId' | 'version'>,
    transition: NodeTransition,
    orphans?: Record<string, Record<string, string>>,
  ): Promise<boolean> {
    const { work, ...fields } = transition;
    return this.#update(keys.node(node.shardId, node.nodeId), {
      set: {
        ...fields,
        ...(work ? { workPk: work.pk, workSk: work.sk } : {}),
        ...(orphans ? { orphans } : {}),
      },
      remove: [
        ...(work ? [] : ['workPk', 'workSk']),
        ...(transition.lastError ? [] : ['lastError']),
        ...(transition.nextAttemptAt ? [] : ['nextAttemptAt']),
      ],
      // Optimistic: a push that failed meanwhile (pending_sync), a new endpoint or a
      // decommission is newer than this attempt's view, and must not be overwritten.
      condition: '#version = :read',
      values: { ':read': node.version },
    });
  }

  async getSweepState(): Promise<SweepState> {
    const last = await this.#get<SweepState>(SWEEP_LAST);
    return {
      sweepCount: last?.sweepCount ?? 0,
      cursor: last?.cursor,
      lastSuccessAt: last?.lastSuccessAt,
    };
  }

  async loadTopologyDigests(): Promise<Map<string, string>> {
    const digests = new Map<string, string>();
    let keysToGet: Key[] = Array.from({ length: TOPOLOGY_CHUNKS }, (_, i) => ({
      pk: 'TOPOLOGY',
      sk: `CHUNK#${String(i).padStart(2, '0')}`,
    }));
    while (keysToGet.length) {
      const { Responses, UnprocessedKeys } = await this.#db.send(
        new BatchGetCommand({
          RequestItems: { [this.#table]: { Keys: keysToGet, ConsistentRead: true } },
        }),
      );
      for (const item of Responses?.[this.#table] ?? []) {
        for (const [shardId, digest] of Object.entries(
          (item.digests ?? {}) as Record<string, string>,
        )) {
          digests.set(shardId, digest);
        }
      }
      keysToGet = (UnprocessedKeys?.[this.#table]?.Keys ?? []) as Key[];
    }
    return digests;
  }

  /** Rewrites only the chunks that hold a changed shard. */
  async saveTopologyDigests(
    digests: ReadonlyMap<string, string>,
    changedShards: readonly string[],
  ): Promise<void> {
    const dirty = new Set(changedShards.map(topologyChunk));
    const chunks = new Map<string, Record<string, string>>([...dirty].map((c) => [c, {}]));
    for (const [shardId, digest] of digests) {
      const chunk = chunks.get(topologyChunk(shardId));
      if (chunk) chunk[shardId] = digest;
    }
    await Promise.all(
      [...chunks].map(([sk, chunk]) =>
        this.#update({ pk: 'TOPOLOGY', sk }, { set: { type: 'topology', digests: chunk } }),
      ),
    );
  }

  setNodeMembership(
    shardId: string,
    nodeId: string,
    status: 'joining' | 'decommissioned',
  ): Promise<boolean> {
    const key = keys.node(shardId, nodeId);
    if (status === 'joining') {
      return this.#update(key, {
        set: {
          status,
          consecutiveFailures: 0,
          workPk: WORK.nodeJoining,
          workSk: `${this.#now()}#${shardId}#${nodeId}`,
        },
        remove: ['nextAttemptAt', 'lastError'],
        condition: '#status = :decommissioned',
        values: { ':decommissioned': 'decommissioned' },
      });
    }
    return this.#update(key, {
      set: { status },
      remove: ['workPk', 'workSk', 'nextAttemptAt'],
      condition: 'attribute_exists(pk) AND #status <> :decommissioned',
      values: { ':decommissioned': 'decommissioned' },
    });
  }

  listWork(kind: WorkKind, dueBy?: Date): Promise<Array<Record<string, unknown>>> {
    return this.#queryAll({
      IndexName: 'work',
      KeyConditionExpression: dueBy ? 'workPk = :kind AND workSk <= :due' : 'workPk = :kind',
      // workSk starts with the ISO time the work is due; '~' sorts after any suffix.
      ExpressionAttributeValues: {
        ':kind': kind,
        ...(dueBy ? { ':due': `${dueBy.toISOString()}~` } : {}),
      },
    });
  }

  retryErroredNode(shardId: string, nodeId: string): Promise<boolean> {
    const now = this.#now();
    return this.#update(keys.node(shardId, nodeId), {
      set: {
        status: 'pending_sync',
        workPk: WORK.nodePendingSync,
        workSk: `${now}#${shardId}#${nodeId}`,
      },
      remove: ['nextAttemptAt'],
      condition: '#status = :error',
      values: { ':error': 'error' },
    });
  }

  async writeSweepSummary(summary: SweepSummary, historyTtlSeconds: number): Promise<void> {
    const expiresAt = Math.floor(Date.parse(summary.finishedAt) / 1000) + historyTtlSeconds;
    const ok = summary.errors.length === 0;
    await Promise.all([
      this.#update(SWEEP_LAST, {
        set: { type: 'sweep', ...summary, ...(ok ? { lastSuccessAt: summary.finishedAt } : {}) },
        remove: summary.cursor ? [] : ['cursor'],
      }),
      this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: 'SWEEP', sk: `#${summary.startedAt}`, type: 'sweep', ...summary, expiresAt },
        }),
      ),
    ]);
  }
}
