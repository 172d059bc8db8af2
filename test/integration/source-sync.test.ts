// Source reconciliation on the local stack: the management server simulator is the source of
// truth, the bundled source-sync function compares it with our state and repairs through the
// ordinary queues. Runs are fired one at a time through the stack's source scheduler (the
// template's schedule -> the function), so "within N intervals" is counted, not timed. One
// stack for the file; the tests build on each other's state, in order.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseHeld } from '../../cli/shardctl/source.ts';
import type { Target } from '../../cli/shardctl/target.ts';
import { LOCAL } from '../../local/defaults.ts';
import type { LocalStack } from '../../local/stack.ts';
import type { Message } from '../../shared/contracts/messages.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import type { SourceSyncSummary } from '../../shared/domain/ports.ts';
import { createStores, type TableStores } from '../../shared/store/index.ts';
import {
  doc,
  getItem,
  peekAll,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
  workspaceRecord,
} from './support.ts';

const PARAM = (name: string) => `/shard-control/local/${name}`;
const BUSINESS = 'biz-src';
const LOCATIONS = 5;
const PER_LOCATION = 3;
const logFile = join(tmpdir(), `source-sync-test-${process.pid}-${Date.now()}.log`);

describe('source reconciliation on the local stack', () => {
  let stack: LocalStack;
  let stores: TableStores;
  const run = async () => {
    const scheduler = stack.sourceScheduler!;
    const failures = scheduler.stats.failures;
    await scheduler.fire(scheduler.schedules[0]!);
    await stack.waitForIdle(60_000);
    return { failed: scheduler.stats.failures > failures, last: (await stores.source.last())! };
  };
  const setParameter = (name: string, value: string) =>
    stack.ssm.send(
      new PutParameterCommand({ Name: PARAM(name), Value: value, Type: 'String', Overwrite: true }),
    );
  /** Commits at the management server, then sends unless the event is one of those "lost". */
  const produce = async (message: Message, send: boolean) => {
    const server = stack.managementServer!;
    if (message.type === 'shard.create') {
      server.recordLocation({ ...message.data, updatedAt: message.occurredAt });
    } else if (message.type !== 'shard.converge') {
      const status = message.type === 'workspace.deleted' ? 'deleted' : 'active';
      server.recordWorkspace({ ...message.data, status, updatedAt: message.occurredAt });
    }
    if (send) await stack.sendMessage(message);
  };
  // The management server dates a change when it commits it: now, and strictly increasing.
  let clock = 0;
  const occurredAt = () => {
    clock = Math.max(clock + 1, Date.now());
    return new Date(clock).toISOString();
  };
  const wsData = (workspaceId: string, location = 1) => ({
    workspaceId,
    userId: `user-${workspaceId}`,
    businessId: BUSINESS,
    locationId: `loc-${location}`,
  });
  /** Ground truth: which nodes of the fleet hold the store. */
  const holders = (workspaceId: string) =>
    stack.fleet!.nodes.filter((n) => n.state.stores.has(workspaceId)).length;
  const monitoredEverywhere = async (workspaceId: string) => {
    const record = await workspaceRecord(stack, workspaceId);
    if (record?.status !== 'active' || !record.shardId) return false;
    const nodes = stack.fleet!.nodesOf(record.shardId);
    return (
      nodes.every((n) => n.state.stores.has(workspaceId)) && holders(workspaceId) === nodes.length
    );
  };
  const unmonitored = async (workspaceId: string) =>
    (await workspaceRecord(stack, workspaceId))?.status === 'deleted' && holders(workspaceId) === 0;
  const liveIds = new Set<string>();

  beforeAll(async () => {
    // Timers off: each test fires the runs it counts.
    stack = await startTestStack({ logFile });
    stores = createStores({ tableName: stack.tableName, client: stack.ddb });
  }, 120_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  it('has the source-sync schedule and the local source parameters', async () => {
    expect(stack.sourceScheduler?.schedules).toEqual([
      expect.objectContaining({
        name: 'source-sync',
        functionName: 'source-sync',
        expression: 'rate(5 minutes)',
        dlq: 'reconcile-schedule-dlq',
      }),
    ]);
    expect(stack.endpoints.source).toBe(stack.managementServer?.url);
  });

  it('repairs 20 % of events dropped before sending: everything converges within 2 syncs', async () => {
    const events: Message[] = [];
    for (let l = 1; l <= LOCATIONS; l++) {
      events.push(
        createEnvelope(
          'shard.create',
          { businessId: BUSINESS, locationId: `loc-${l}`, businessType: 'restaurant' },
          { occurredAt: occurredAt() },
        ),
      );
      for (let w = 1; w <= PER_LOCATION; w++) {
        events.push(
          createEnvelope('workspace.created', wsData(`ws-${l}-${w}`, l), {
            occurredAt: occurredAt(),
          }),
        );
      }
    }
    // Three workspaces are deleted again.
    for (const id of ['ws-1-3', 'ws-2-3', 'ws-3-3']) {
      const location = Number(id.split('-')[1]);
      events.push(
        createEnvelope('workspace.deleted', wsData(id, location), { occurredAt: occurredAt() }),
      );
    }
    // 5 of 23 lost, of every kind: a location (its workspaces wait for placement), creations,
    // a deletion.
    const lost = new Set([
      events.findIndex((e) => e.type === 'shard.create' && e.data.locationId === 'loc-4'),
      events.findIndex((e) => e.type === 'workspace.created' && e.data.workspaceId === 'ws-1-1'),
      events.findIndex((e) => e.type === 'workspace.created' && e.data.workspaceId === 'ws-2-2'),
      events.findIndex((e) => e.type === 'workspace.created' && e.data.workspaceId === 'ws-5-1'),
      events.findIndex((e) => e.type === 'workspace.deleted' && e.data.workspaceId === 'ws-2-3'),
    ]);
    expect(lost.size).toBe(Math.round(0.2 * events.length));
    for (const [i, event] of events.entries()) await produce(event, !lost.has(i));
    await stack.waitForIdle(60_000);
    expect(await monitoredEverywhere('ws-1-1')).toBe(false);
    expect(await monitoredEverywhere('ws-4-1')).toBe(false);

    const expectedLive = events
      .filter((e) => e.type === 'workspace.created')
      .map((e) => (e.data as { workspaceId: string }).workspaceId)
      .filter((id) => !['ws-1-3', 'ws-2-3', 'ws-3-3'].includes(id));
    const converged = async () =>
      (await Promise.all(expectedLive.map(monitoredEverywhere))).every(Boolean) &&
      (await Promise.all(['ws-1-3', 'ws-2-3', 'ws-3-3'].map(unmonitored))).every(Boolean);

    let runs = 0;
    while (runs < 2 && !(await converged())) {
      const { failed } = await run();
      expect(failed).toBe(false);
      runs++;
    }
    expect(await converged()).toBe(true);
    for (const id of expectedLive) liveIds.add(id);
    const history = await stores.source.history();
    const repaired = history.reduce(
      (n, s) =>
        n + s.counts.location_missing + s.counts.workspace_missing + s.counts.workspace_behind,
      0,
    );
    expect(repaired).toBe(lost.size);
    expect(history.every((s) => s.counts.workspace_absent === 0)).toBe(true);
  }, 180_000);

  it('unmonitors a workspace whose deletion was never sent, within 1 sync', async () => {
    const id = 'ws-5-2';
    expect(await monitoredEverywhere(id)).toBe(true);
    await produce(
      createEnvelope('workspace.deleted', wsData(id, 5), { occurredAt: occurredAt() }),
      false,
    );
    const { failed, last } = await run();
    expect(failed).toBe(false);
    expect(last.counts.workspace_behind).toBe(1);
    expect(await unmonitored(id)).toBe(true);
    liveIds.delete(id);
  }, 60_000);

  it('removes a workspace absent from complete snapshots after the grace period, not before', async () => {
    // Known here (its event reached us) but never at the management server.
    const id = 'ws-stray';
    await stack.sendMessage(createEnvelope('workspace.created', wsData(id, 5)));
    await stack.waitForIdle(60_000);
    expect(await monitoredEverywhere(id)).toBe(true);
    const graceSeconds = 3;
    await setParameter('source/delete-grace-seconds', String(graceSeconds));
    await setParameter('source/full-sync-every', '1');

    const first = await run();
    expect(first.last).toMatchObject({ full: true, deletions: 'applied', waiting: 1 });
    const since = (await stores.source.loadAbsence()).absentSince.get(id);
    expect(since).toBeDefined();
    expect(await monitoredEverywhere(id)).toBe(true);

    // Every run until the deletion: before the grace has passed, it must still be monitored.
    const stillMonitored: boolean[] = [];
    await waitFor(
      'the absent workspace to be deleted',
      async () => {
        const { last } = await run();
        if (last.counts.workspace_absent > 0) return true;
        stillMonitored.push(await monitoredEverywhere(id));
        return false;
      },
      60_000,
      0,
    );
    expect(stillMonitored.every(Boolean)).toBe(true);
    const record = await workspaceRecord(stack, id);
    // The deletion is dated at the snapshot that found it due: at least the grace after `since`.
    expect(Date.parse(record!.lastEventAt) - Date.parse(since!)).toBeGreaterThanOrEqual(
      graceSeconds * 1000,
    );
    expect(await unmonitored(id)).toBe(true);
  }, 120_000);

  it('holds every deletion an empty listing implies, and raises the held metric', async () => {
    await setParameter('source/delete-grace-seconds', '0');
    stack.managementServer!.setEmptyListings(true);
    const { failed, last } = await run();
    expect(failed).toBe(false);
    expect(last).toMatchObject({ deletions: 'held_max_share', held: liveIds.size });
    expect(last.heldTotal).toBe(liveIds.size);
    const held = await stores.source.listHeld();
    expect(held.map((h) => h.workspaceId).sort()).toEqual([...liveIds].sort());
    for (const id of liveIds) expect(await monitoredEverywhere(id)).toBe(true);
    // The alarm's metric, as Powertools wrote it (EMF) to the function's log.
    const emf = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"SourceDeletionsHeld"'))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>);
    expect(emf.some((m) => m.SourceDeletionsHeld === liveIds.size)).toBe(true);

    // The source is back: the held deletions are no longer due, and lapse by themselves.
    stack.managementServer!.setEmptyListings(false);
    const after = await run();
    expect(after.last).toMatchObject({ deletions: 'applied', heldTotal: 0, held: 0 });
    expect(await stores.source.listHeld()).toEqual([]);
    for (const id of liveIds) expect(await monitoredEverywhere(id)).toBe(true);
  }, 120_000);

  it('lets the operator release a held deletion (shardctl source release-held)', async () => {
    const id = 'ws-stray-2';
    await stack.sendMessage(createEnvelope('workspace.created', wsData(id, 5)));
    await stack.waitForIdle(60_000);
    await setParameter('source/max-deletes', '0');
    const { last } = await run();
    expect(last).toMatchObject({ deletions: 'held_max_deletes', held: 1 });
    expect(await monitoredEverywhere(id)).toBe(true);
    const target = {
      stage: LOCAL.stage,
      local: true,
      sqs: stack.sqs,
      ssm: stack.ssm,
      dynamodb: stack.ddb,
      tableName: stack.tableName,
      queueUrl: async (name: string) => stack.queues[name]!,
    } as unknown as Target;
    const dry = await releaseHeld(target, { dryRun: true });
    expect(dry).toMatchObject({ held: 1, released: 0 });
    expect(dry.messages).toEqual([
      expect.objectContaining({
        type: 'workspace.deleted',
        data: expect.objectContaining({ workspaceId: id }),
      }),
    ]);
    expect(await releaseHeld(target, { dryRun: false })).toMatchObject({ held: 1, released: 1 });
    await stack.waitForIdle(60_000);
    expect(await unmonitored(id)).toBe(true);
    expect(await stores.source.listHeld()).toEqual([]);
    await setParameter('source/max-deletes', '100');
  }, 120_000);

  it('deletes nothing and fails visibly while the source is down', async () => {
    const before = (await stores.source.last())!;
    stack.managementServer!.setFaults({ down: true });
    try {
      const { failed, last } = await run();
      expect(failed).toBe(true);
      expect(last.errors.join(' ')).toMatch(/listing changed locations/);
      expect(last.runCount).toBe(before.runCount + 1);
      expect((last as { lastSuccessAt?: string }).lastSuccessAt).toBe(
        (before as { lastSuccessAt?: string }).lastSuccessAt,
      );
      expect(last.counts.workspace_absent).toBe(0);
      for (const id of liveIds) expect(await monitoredEverywhere(id)).toBe(true);
      // Scheduler's dead-letter path: the failed run is in the schedule DLQ.
      const letters = await peekAll(stack, 'reconcile-schedule-dlq');
      expect(
        letters.some(
          (m) => m.MessageAttributes?.ERROR_CODE?.StringValue === 'SourceSyncFailedError',
        ),
      ).toBe(true);
    } finally {
      stack.managementServer!.setFaults({});
    }
    const { failed } = await run();
    expect(failed).toBe(false);
  }, 120_000);

  it('never writes the source token to logs, metrics or the table', async () => {
    const token = LOCAL.sourceToken;
    expect(readFileSync(logFile, 'utf8')).not.toContain(token);
    const items = (
      await doc(stack).send(new ScanCommand({ TableName: stack.tableName, ConsistentRead: true }))
    ).Items;
    expect(JSON.stringify(items)).not.toContain(token);
    const last = await getItem<SourceSyncSummary>(stack, 'SOURCE', 'LAST');
    expect(JSON.stringify(last)).not.toContain(token);
  });
});
