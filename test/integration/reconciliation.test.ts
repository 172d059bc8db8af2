// Reconciliation (sweeps and convergence) on the local stack (bundled handlers, real SDK, real HTTP): sweeps find drift and
// convergence jobs repair it. Sweeps are fired one at a time through the stack's scheduler
// (the template's schedule -> the reconcile-sweep function), so "within N sweeps" is counted,
// not timed; one test runs the scheduler on its own timer. One stack for the file.
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalScheduler } from '../../local/runtime/scheduler.ts';
import type { NodeAgentSimulator } from '../../local/simulators/node-agent.ts';
import type { LocalStack } from '../../local/stack.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import {
  doc,
  getItem,
  type LocationRef,
  locationRecord,
  nodeRecords,
  queryPartition,
  queueDepth,
  schemaKeyOf,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
} from './support.ts';

const PARAM = (name: string) => `/shard-control/local/${name}`;

describe('reconciliation on the local stack', () => {
  let stack: LocalStack;
  const convergencePoller = () => stack.pollers.find((p) => p.spec.queueName === 'convergence')!;
  const schedule = () => stack.scheduler!.schedules[0]!;
  const sweepSchedules = () =>
    stack.topology.schedules.filter((s) => s.functionName === 'reconcile-sweep');
  /** One sweep, as the schedule fires it, then everything it enqueued has run. */
  const sweep = async () => {
    await stack.scheduler!.fire(schedule());
    await stack.waitForIdle(30_000);
  };
  const setParameter = (name: string, value: string) =>
    stack.ssm.send(
      new PutParameterCommand({ Name: PARAM(name), Value: value, Type: 'String', Overwrite: true }),
    );
  const createLocation = async (l: LocationRef) => {
    await stack.sendMessage(createEnvelope('shard.create', { ...l, businessType: 'restaurant' }));
  };
  const activeResources = async (shardId: string) => {
    const items = await queryPartition(stack, `SHARD#${shardId}`, 'RES#');
    const active = items.filter((r) => r.status === 'active');
    return {
      schemas: active
        .filter((r) => r.kind === 'schema')
        .map((r) => schemaKeyOf(r as unknown as LocationRef)),
      stores: active.filter((r) => r.kind === 'store').map((r) => String(r.workspaceId)),
    };
  };
  const holdsAll = (node: NodeAgentSimulator, want: { schemas: string[]; stores: string[] }) =>
    want.schemas.every((k) => node.state.schemas.has(k)) &&
    want.stores.every((id) => node.state.stores.has(id));

  beforeAll(async () => {
    // Sweeps are fired by the tests; the timer never fires on its own here.
    stack = await startTestStack();
    // No hourly full verification in the middle of a test.
    await setParameter('reconcile/full-verify-every', '1000');
    // The first sweep records every shard Citrus knows (and their topology digests).
    await sweep();
  }, 60_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  it('has picked up the template schedule: rate, target function, DLQ', () => {
    expect(stack.scheduler!.schedules).toEqual([
      expect.objectContaining({
        name: 'reconcile-sweep',
        functionName: 'reconcile-sweep',
        expression: 'rate(5 minutes)',
        enabled: true,
        dlq: 'reconcile-schedule-dlq',
      }),
    ]);
  });

  it('catches up a node that was offline during creations within two sweeps of coming back', async () => {
    const fleet = stack.fleet!;
    const offline = fleet.nodes.filter((n) => n.nodeId.endsWith('-node-1'));
    const locations = [1, 2, 3, 4, 5].map((i) => ({
      businessId: 'biz-rc-offline',
      locationId: `loc-${i}`,
    }));
    for (const node of offline) node.setFaults({ down: true });
    try {
      for (const l of locations) await createLocation(l);
      await stack.waitForIdle(30_000);
      // Still down: a sweep retries, the node stays pending_sync, nothing is dead-lettered.
      await sweep();
    } catch (error) {
      for (const node of offline) node.setFaults({});
      throw error;
    }
    const shards = new Set<string>();
    for (const l of locations) shards.add((await locationRecord(stack, l))!.shardId!);
    for (const shardId of shards) {
      const node = (await nodeRecords(stack, shardId)).find((n) =>
        String(n.nodeId).endsWith('-node-1'),
      );
      expect(node?.status).toBe('pending_sync');
    }

    for (const node of offline) node.setFaults({});
    const converged = async () => {
      for (const shardId of shards) {
        const want = await activeResources(shardId);
        if (!holdsAll(fleet.node(`${shardId}-node-1`), want)) return false;
        const statuses = (await nodeRecords(stack, shardId)).map((n) => n.status);
        if (statuses.some((s) => s !== 'active')) return false;
      }
      return true;
    };
    let sweeps = 0;
    while (sweeps < 2 && !(await converged())) {
      await sweep();
      sweeps++;
    }
    expect(await converged()).toBe(true);
    expect(sweeps).toBeGreaterThan(0);
    for (const shardId of shards) {
      const node = fleet.node(`${shardId}-node-1`);
      for (const l of locations) {
        const onShard = (await locationRecord(stack, l))!.shardId === shardId;
        expect(node.state.schemas.has(schemaKeyOf(l))).toBe(onShard);
      }
    }
    expect(await queueDepth(stack, 'convergence-dlq')).toBe(0);
  }, 60_000);

  it('brings a node added in Citrus every active schema and store after one sweep and one job', async () => {
    const fleet = stack.fleet!;
    const loc = { businessId: 'biz-rc-join', locationId: 'loc-1' };
    await createLocation(loc);
    await stack.waitForIdle(20_000);
    const shardId = (await locationRecord(stack, loc))!.shardId!;
    for (const w of [1, 2, 3]) {
      await stack.sendMessage(
        createEnvelope('workspace.created', {
          ...loc,
          workspaceId: `ws-rc-join-${w}`,
          userId: 'u1',
        }),
      );
    }
    await stack.waitForIdle(20_000);
    const want = await activeResources(shardId);
    expect(want.stores.length).toBeGreaterThanOrEqual(3);

    const received = convergencePoller().stats.received;
    const joined = await fleet.addNode(shardId);
    await sweep();

    expect(holdsAll(joined, want)).toBe(true);
    expect(convergencePoller().stats.received - received).toBe(1);
    const record = (await nodeRecords(stack, shardId)).find((n) => n.nodeId === joined.nodeId);
    expect(record).toMatchObject({ status: 'active', endpoint: joined.url });
    // health + one listing per kind + one `:apply` per 1,000 ids of each kind.
    const batches = Math.ceil(want.schemas.length / 1000) + Math.ceil(want.stores.length / 1000);
    expect(joined.requests.length).toBeLessThanOrEqual(3 + batches);
    expect(joined.requests.every((r) => r.status === 200)).toBe(true);
  }, 60_000);

  it('removes a deleted workspace store from a node that was offline when the delete happened', async () => {
    const fleet = stack.fleet!;
    const loc = { businessId: 'biz-rc-delete', locationId: 'loc-1' };
    await createLocation(loc);
    await stack.waitForIdle(20_000);
    const shardId = (await locationRecord(stack, loc))!.shardId!;
    const ws = { ...loc, workspaceId: 'ws-rc-delete-1', userId: 'u1' };
    await stack.sendMessage(createEnvelope('workspace.created', ws));
    await stack.waitForIdle(20_000);
    const nodes = fleet.nodesOf(shardId);
    expect(nodes.every((n) => n.state.stores.has(ws.workspaceId))).toBe(true);

    const offline = nodes[1]!;
    offline.setFaults({ down: true });
    try {
      await stack.sendMessage(createEnvelope('workspace.deleted', ws));
      await stack.waitForIdle(20_000);
    } finally {
      offline.setFaults({});
    }
    expect(offline.state.stores.has(ws.workspaceId)).toBe(true);
    for (const n of nodes.filter((x) => x !== offline)) {
      expect(n.state.stores.has(ws.workspaceId)).toBe(false);
    }

    await sweep();
    expect(offline.state.stores.has(ws.workspaceId)).toBe(false);
    const record = (await nodeRecords(stack, shardId)).find((n) => n.nodeId === offline.nodeId);
    expect(record?.status).toBe('active');
  }, 60_000);

  it('kill switch: with reconcile/enabled=false a sweep writes nothing and sends no job', async () => {
    const fleet = stack.fleet!;
    // Drift a sweep would act on: a node left pending_sync by a failed convergence.
    const shardId = 'shard-002';
    const node = fleet.nodesOf(shardId)[2]!;
    node.setFaults({ down: true });
    try {
      await stack.sendMessage(createEnvelope('shard.converge', { shardId, reason: 'manual' }));
      await stack.waitForIdle(20_000);
    } finally {
      node.setFaults({});
    }
    expect((await nodeRecords(stack, shardId)).find((n) => n.nodeId === node.nodeId)?.status).toBe(
      'pending_sync',
    );

    const scan = async () =>
      (await doc(stack).send(new ScanCommand({ TableName: stack.tableName, ConsistentRead: true })))
        .Items;
    // The sweep reads SSM afresh: the very next sweep obeys the switch.
    await setParameter('reconcile/enabled', 'false');
    const before = await scan();
    const received = convergencePoller().stats.received;
    const invocations = stack.scheduler!.stats.invocations;
    const failures = stack.scheduler!.stats.failures;
    await sweep();
    expect(stack.scheduler!.stats.invocations).toBe(invocations + 1);
    expect(stack.scheduler!.stats.failures).toBe(failures);
    expect(await scan()).toEqual(before);
    expect(convergencePoller().stats.received).toBe(received);

    // Switched back on, the same drift is picked up by the next sweep.
    await setParameter('reconcile/enabled', 'true');
    const lastBefore = await getItem<{ sweepCount: number }>(stack, 'SWEEP', 'LAST');
    await sweep();
    expect((await getItem<{ sweepCount: number }>(stack, 'SWEEP', 'LAST'))?.sweepCount).toBe(
      lastBefore!.sweepCount + 1,
    );
    expect(convergencePoller().stats.received).toBeGreaterThan(received);
    expect((await nodeRecords(stack, shardId)).find((n) => n.nodeId === node.nodeId)?.status).toBe(
      'active',
    );
  }, 60_000);

  it('runs the sweep on its own timer from the template schedule', async () => {
    const before = (await getItem<{ sweepCount: number }>(stack, 'SWEEP', 'LAST'))!.sweepCount;
    const timer = new LocalScheduler(sweepSchedules(), {
      invoke: (fn, event) => stack.invoke(fn, event),
      intervalSeconds: 0.5,
    });
    timer.start();
    try {
      await waitFor(
        'two timed sweeps',
        async () =>
          ((await getItem<{ sweepCount: number }>(stack, 'SWEEP', 'LAST'))?.sweepCount ?? 0) >=
          before + 2,
      );
    } finally {
      await timer.stop();
    }
    expect(timer.stats.failures).toBe(0);
    await stack.waitForIdle(20_000);
  }, 30_000);
});
