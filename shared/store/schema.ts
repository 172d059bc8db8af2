// The state table, in one place: key formats, secondary indexes, the TTL attribute and how
// long things live. Stores, infra, the CLI, tests and benchmarks read the layout from here;
// nothing else knows a pk or an sk.

export const TABLE_KEY = { partition: 'pk', sort: 'sk' } as const;
export type ItemKey = { pk: string; sk: string };

/** Items carrying this attribute (epoch seconds) are deleted by DynamoDB's TTL. */
export const TTL_ATTRIBUTE = 'expiresAt';

export const TTL_SECONDS = {
  /** A deleted workspace (and its store record) outlives any redelivery or DLQ replay. */
  tombstone: 30 * 24 * 3600,
  /** Sweep history items. */
  sweepHistory: 7 * 24 * 3600,
  /** Source-sync history items. */
  sourceHistory: 7 * 24 * 3600,
} as const;

/** Epoch seconds `seconds` after `from`, for the TTL attribute. */
export const expiresAt = (from: Date, seconds: number) =>
  Math.floor(from.getTime() / 1000) + seconds;

/**
 * Sparse GSIs. `work`: only items that need the sweep's attention carry `workPk`, so a quiet
 * fleet costs one empty Query per kind; `workSk` starts with the ISO time the work is due.
 * `byLocation`: workspaces waiting for their location's shard, found by location.
 * `live`: every workspace that is active or pending placement, spread over LIVE_BUCKETS
 * partitions and projecting only what source reconciliation compares, so a full snapshot reads
 * the live fleet in a few pages per bucket instead of scanning the table.
 */
export const INDEXES = {
  work: { name: 'work', partitionKey: 'workPk', sortKey: 'workSk' },
  byLocation: { name: 'byLocation', partitionKey: 'locationPk', sortKey: 'locationSk' },
  live: {
    name: 'live',
    partitionKey: 'livePk',
    sortKey: 'liveSk',
    projection: [
      'workspaceId',
      'userId',
      'businessId',
      'locationId',
      'status',
      'lastEventAt',
      'lastEventKey',
    ],
  },
} as const satisfies Record<
  string,
  { name: string; partitionKey: string; sortKey: string; projection?: readonly string[] }
>;
export type IndexName = keyof typeof INDEXES;

const NODE = 'NODE#';
const RESOURCE = 'RES#';
const SOURCE = 'SOURCE';
const HELD = 'HELD#';

export const keys = {
  /**
   * A location once its shard.create claims it (`status` set); before that, possibly a bare
   * item holding only `workspacesWaiting`, left by a workspace that waits for it.
   */
  location: (businessId: string, locationId: string): ItemKey => ({
    pk: `LOC#${businessId}#${locationId}`,
    sk: 'META',
  }),
  shard: (shardId: string): ItemKey => ({ pk: `SHARD#${shardId}`, sk: 'META' }),
  node: (shardId: string, nodeId: string): ItemKey => ({
    pk: `SHARD#${shardId}`,
    sk: `${NODE}${nodeId}`,
  }),
  schema: (shardId: string, businessId: string, locationId: string): ItemKey => ({
    pk: `SHARD#${shardId}`,
    sk: `${RESOURCE}schema#${businessId}#${locationId}`,
  }),
  store: (shardId: string, workspaceId: string): ItemKey => ({
    pk: `SHARD#${shardId}`,
    sk: `${RESOURCE}store#${workspaceId}`,
  }),
  workspace: (workspaceId: string): ItemKey => ({ pk: `WS#${workspaceId}`, sk: 'META' }),
  sweepLast: (): ItemKey => ({ pk: 'SWEEP', sk: 'LAST' }),
  sweepHistory: (startedAt: string): ItemKey => ({ pk: 'SWEEP', sk: `#${startedAt}` }),
  topologyChunk: (chunk: number): ItemKey => ({
    pk: 'TOPOLOGY',
    sk: `CHUNK#${String(chunk).padStart(2, '0')}`,
  }),
  sourceLast: (): ItemKey => ({ pk: SOURCE, sk: 'LAST' }),
  sourceHistory: (startedAt: string): ItemKey => ({ pk: SOURCE, sk: `#${startedAt}` }),
  sourceHeld: (workspaceId: string): ItemKey => ({ pk: SOURCE, sk: `${HELD}${workspaceId}` }),
  sourceAbsenceChunk: (chunk: number): ItemKey => ({
    pk: SOURCE,
    sk: `ABSENT#${String(chunk).padStart(2, '0')}`,
  }),
} as const;

/** The source-sync partition and the sort-key prefix of its held deletions. */
export const sourcePartition = { pk: SOURCE, held: HELD } as const;

/** Sort-key prefixes inside a shard's partition. */
export const shardPartition = {
  pk: (shardId: string) => `SHARD#${shardId}`,
  nodes: NODE,
  resources: RESOURCE,
  /** `META` and every `NODE#…` sort between these (`$` sorts right after `#`): one Query. */
  metaAndNodes: { from: 'META', to: 'NODE$' },
} as const;

/** Partitions of the `work` index. */
export const WORK = {
  nodePendingSync: 'node#pending_sync',
  nodeJoining: 'node#joining',
  nodeError: 'node#error',
  /** An active node whose orphans' grace ends: due for a follow-up convergence. */
  nodeFollowUp: 'node#follow_up',
  shardFailed: 'shard#failed',
  workspacePendingPlacement: 'workspace#pending_placement',
} as const;
export type WorkPartition = (typeof WORK)[keyof typeof WORK];

/** A `work` index entry: `workSk` sorts by due time, then names the item. */
export const workEntry = (partition: WorkPartition, dueAt: string, ...ids: string[]) => ({
  workPk: partition,
  workSk: [dueAt, ...ids].join('#'),
});
export const WORK_ATTRIBUTES = ['workPk', 'workSk'] as const;

/** The `byLocation` entry of a workspace waiting for its location's shard. */
export const byLocationEntry = (businessId: string, locationId: string, workspaceId: string) => ({
  locationPk: keys.location(businessId, locationId).pk,
  locationSk: keys.workspace(workspaceId).pk,
});
export const BY_LOCATION_ATTRIBUTES = ['locationPk', 'locationSk'] as const;

/** The key condition that finds `work` entries of a partition due by `dueBy` (all without). */
export function workDueQuery(partition: WorkPartition, dueBy?: Date) {
  return {
    IndexName: INDEXES.work.name,
    KeyConditionExpression: dueBy ? 'workPk = :kind AND workSk <= :due' : 'workPk = :kind',
    // '~' sorts after any suffix of the due time.
    ExpressionAttributeValues: {
      ':kind': partition,
      ...(dueBy ? { ':due': `${dueBy.toISOString()}~` } : {}),
    },
  };
}

/** Partitions of the `live` index: enough to read them in parallel, few enough to stay cheap. */
export const LIVE_BUCKETS = 8;

/** The `live` entry of an active or pending workspace (removed when it is deleted). */
export function liveEntry(workspaceId: string) {
  let hash = 0;
  for (let i = 0; i < workspaceId.length; i++) hash = (hash * 31 + workspaceId.charCodeAt(i)) >>> 0;
  return { livePk: `live#${hash % LIVE_BUCKETS}`, liveSk: workspaceId };
}
export const LIVE_ATTRIBUTES = ['livePk', 'liveSk'] as const;

/** The key condition that reads one bucket of the `live` index. */
export const liveBucketQuery = (bucket: number) => ({
  IndexName: INDEXES.live.name,
  KeyConditionExpression: 'livePk = :bucket',
  ExpressionAttributeValues: { ':bucket': `live#${bucket}` },
});
