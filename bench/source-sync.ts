// Source reconciliation at scale, in-process with the real adapters (the stores on the local
// DynamoDB emulator on its own thread, SourceClient over HTTP to the management server
// simulator) and the real run (runSourceSync): 100,000 workspaces at 20,000 locations, the
// same in the table and at the source, so nothing drifted.
// 1. a full snapshot (the incremental listing, then everything): DynamoDB requests by
//    operation, requests to the source, time;
// 2. the quiet incremental run after it.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL } from '../local/defaults.ts';
import { startManagementServer } from '../local/simulators/management-server.ts';
import { SourceClient } from '../shared/adapters/source-client.ts';
import { SOURCE_PAGE_MAX } from '../shared/contracts/source.ts';
import type { SourceSyncSummary } from '../shared/domain/ports.ts';
import { Secret } from '../shared/domain/secret.ts';
import { runSourceSync, type SourceSyncSettings } from '../shared/domain/source-sync-run.ts';
import { eventKeyOf } from '../shared/domain/workspace-lifecycle.ts';
import { createStores, type TableStores } from '../shared/store/index.ts';
import { keys, liveEntry } from '../shared/store/schema.ts';
import { createStateTable, localDynamoDb } from '../test/support/table.ts';
import { type Benchmark, round, table } from './benchmark.ts';
import { batchWrite, countRequests } from './support/dynamodb.ts';
import { startRemoteDynamoDb } from './support/remote.ts';

export const TARGETS = {
  quietSourceRequests: 3,
  quietDynamoRequests: 3,
  fullDynamoRequests: 400,
  fullMs: 60_000,
} as const;
const LOCATIONS = 20_000;
const WORKSPACES = 100_000;
const FULL_SYNC_EVERY = 12;
const TABLE = `shard-control-bench-source-${Date.now()}`;
const UPDATED_AT = '2026-01-01T00:00:00.000Z';
const stamp = { version: 1, createdAt: UPDATED_AT, updatedAt: UPDATED_AT };

interface Measured {
  dynamoRequests: number;
  byOperation: Record<string, number>;
  sourceRequests: number;
  ms: number;
  repairs: number;
  errors: string[];
}

export interface SourceSyncBenchResult {
  locations: number;
  workspaces: number;
  seedMs: number;
  fullSnapshot: Measured & { deletions?: string };
  quietIncremental: Measured;
}

const location = (i: number) => ({
  businessId: `biz-${Math.floor(i / 4)}`,
  locationId: `loc-${i}`,
  businessType: 'restaurant',
});
const workspace = (i: number) => {
  const { businessId, locationId } = location(i % LOCATIONS);
  return {
    workspaceId: `ws-${String(i).padStart(6, '0')}`,
    userId: `user-${i}`,
    businessId,
    locationId,
  };
};

async function seed(client: DynamoDBClient) {
  const items: Array<Record<string, unknown>> = [];
  for (let i = 0; i < LOCATIONS; i++) {
    const l = location(i);
    items.push({
      ...keys.location(l.businessId, l.locationId),
      ...stamp,
      type: 'location',
      ...l,
      status: 'active',
      shardId: `shard-${i % 100}`,
      shardKey: `key-${i % 100}`,
    });
  }
  for (let i = 0; i < WORKSPACES; i++) {
    const w = workspace(i);
    items.push({
      ...keys.workspace(w.workspaceId),
      ...stamp,
      type: 'workspace',
      workspaceId: w.workspaceId,
      userId: w.userId,
      businessId: w.businessId,
      locationId: w.locationId,
      shardId: `shard-${i % 100}`,
      status: 'active',
      lastEventAt: UPDATED_AT,
      lastEventKey: eventKeyOf(UPDATED_AT, false),
      ...liveEntry(w.workspaceId),
    });
  }
  await batchWrite(client, TABLE, items);
}

export const sourceSync: Benchmark<SourceSyncBenchResult> = {
  name: 'source-sync',
  description: `a full snapshot and a quiet incremental source sync over ${WORKSPACES} workspaces at ${LOCATIONS} locations`,
  async run() {
    const dynamo = await startRemoteDynamoDb();
    const client = localDynamoDb(dynamo.url);
    const server = await startManagementServer({
      locations: Array.from({ length: LOCATIONS }, (_, i) => ({
        ...location(i),
        updatedAt: UPDATED_AT,
      })),
      workspaces: Array.from({ length: WORKSPACES }, (_, i) => ({
        ...workspace(i),
        status: 'active' as const,
        updatedAt: UPDATED_AT,
      })),
    });
    try {
      await createStateTable(client, TABLE);
      const seedStarted = performance.now();
      await seed(client);
      const seedMs = round(performance.now() - seedStarted);
      const stores: TableStores = createStores({ tableName: TABLE, client });
      // As after FULL_SYNC_EVERY - 1 quiet runs: the next run is a full snapshot.
      const asOf = new Date().toISOString();
      const previous: SourceSyncSummary = {
        runCount: FULL_SYNC_EVERY - 1,
        startedAt: asOf,
        finishedAt: asOf,
        durationMs: 0,
        full: false,
        complete: true,
        asOf,
        counts: {
          location_missing: 0,
          workspace_missing: 0,
          workspace_behind: 0,
          workspace_absent: 0,
        },
        repairsSent: 0,
        repairsFailed: 0,
        held: 0,
        waiting: 0,
        errors: [],
      };
      await stores.source.writeSummary(previous);

      const source = new SourceClient({
        baseUrl: server.url,
        token: new Secret(LOCAL.sourceToken),
        timeoutMs: 30_000,
        attempts: 1,
      });
      let sent = 0;
      const ports = {
        state: stores.source,
        reader: stores.sourceReader,
        source,
        send: async (messages: readonly unknown[]) => {
          sent += messages.length;
          return [] as string[];
        },
        remainingMs: () => 900_000,
      };
      const settings: SourceSyncSettings = {
        fullSyncEvery: FULL_SYNC_EVERY,
        deleteGraceSeconds: 3600,
        maxDeletes: 100,
        reserveMs: 20_000,
        pageSize: SOURCE_PAGE_MAX,
      };
      const counter = countRequests(client);
      const measure = async (): Promise<Measured & { deletions?: string }> => {
        counter.reset();
        sent = 0;
        const requestsBefore = server.requests.length;
        const started = performance.now();
        const summary = await runSourceSync(ports, settings);
        return {
          dynamoRequests: counter.total(),
          byOperation: counter.byOperation(),
          sourceRequests: server.requests.length - requestsBefore,
          ms: round(performance.now() - started),
          repairs: sent,
          errors: summary.errors,
          ...(summary.deletions ? { deletions: summary.deletions } : {}),
        };
      };
      const fullSnapshot = await measure();
      const quietIncremental = await measure();
      return {
        locations: LOCATIONS,
        workspaces: WORKSPACES,
        seedMs,
        fullSnapshot,
        quietIncremental,
      };
    } finally {
      client.destroy();
      await server.stop();
      await dynamo.stop();
    }
  },
  format(r) {
    return [
      table(
        ['measure', 'value', 'target'],
        [
          [
            'quiet incremental: source requests',
            r.quietIncremental.sourceRequests,
            `<= ${TARGETS.quietSourceRequests}`,
          ],
          [
            'quiet incremental: DynamoDB requests',
            r.quietIncremental.dynamoRequests,
            `<= ${TARGETS.quietDynamoRequests}`,
          ],
          ['quiet incremental: ms', r.quietIncremental.ms, ''],
          [
            'full snapshot: DynamoDB requests',
            r.fullSnapshot.dynamoRequests,
            `<= ${TARGETS.fullDynamoRequests}`,
          ],
          ['full snapshot: source requests', r.fullSnapshot.sourceRequests, ''],
          ['full snapshot: ms', r.fullSnapshot.ms, `<= ${TARGETS.fullMs}`],
          ['full snapshot: repairs sent', r.fullSnapshot.repairs, '0'],
        ],
      ),
      '',
      `full snapshot DynamoDB requests by operation: ${JSON.stringify(r.fullSnapshot.byOperation)}`,
      `quiet incremental DynamoDB requests by operation: ${JSON.stringify(r.quietIncremental.byOperation)}`,
    ].join('\n');
  },
  passed(r) {
    return (
      r.quietIncremental.sourceRequests <= TARGETS.quietSourceRequests &&
      r.quietIncremental.dynamoRequests <= TARGETS.quietDynamoRequests &&
      r.fullSnapshot.dynamoRequests <= TARGETS.fullDynamoRequests &&
      r.fullSnapshot.ms <= TARGETS.fullMs &&
      r.fullSnapshot.repairs === 0 &&
      r.fullSnapshot.errors.length === 0 &&
      r.quietIncremental.errors.length === 0
    );
  },
};
