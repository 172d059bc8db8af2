// The repair-time guarantees of reconciliation on the local stack (bundled handlers, real SDK,
// real HTTP): a node back after an outage longer than the error threshold, an orphan, a
// black-holed node. Sweeps are fired one at a time, so "within N sweeps" is counted, not timed;
// the seconds from the event to the repair are printed for the record.
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import {
  getItem,
  type LocationRef,
  locationRecord,
  nodeRecords,
  queueDepth,
  schemaKeyOf,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
} from './support.ts';

const ORPHAN_GRACE_SECONDS = 3;
const ERROR_AFTER_FAILURES = 2;
const seconds = (from: number) => ((Date.now() - from) / 1000).toFixed(1);

describe('repair times on the local stack', () => {
  let stack: LocalStack;
  const sweep = async () => {
    await stack.scheduler!.fire(stack.scheduler!.schedules[0]!);
    await stack.waitForIdle(30_000);
  };
  const setParameter = (name: string, value: string) =>
    stack.ssm.send(
      new PutParameterCommand({
        Name: `/shard-control/local/${name}`,
        Value: value,
        Type: 'String',
        Overwrite: true,
      }),
    );
  const nodeRecord = async (shardId: string, nodeId: string) =>
    (await nodeRecords(stack, shardId)).find((n) => n.nodeId === nodeId);
  const shardRecord = (shardId: string) =>
    getItem<{ status: string; lastError?: string }>(stack, `SHARD#${shardId}`, 'META');

  beforeAll(async () => {
    stack = await startTestStack({ env: { ORPHAN_GRACE_SECONDS: String(ORPHAN_GRACE_SECONDS) } });
    // Before any convergence loads its configuration.
    await setParameter('reconcile/error-after-failures', String(ERROR_AFTER_FAILURES));
    await setParameter('reconcile/full-verify-every', '1000');
    await sweep();
  }, 60_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  it('converges a node that was away past the error threshold within 2 sweeps of its return; its shard is not active meanwhile', async () => {
    const fleet = stack.fleet!;
    const location: LocationRef = { businessId: 'biz-rt-away', locationId: 'loc-1' };
    await stack.sendMessage(
      createEnvelope('shard.create', { ...location, businessType: 'restaurant' }),
    );
    await stack.waitForIdle(30_000);
    const shardId = (await locationRecord(stack, location))!.shardId!;
    const away = fleet.nodesOf(shardId)[0]!;
    away.setFaults({ down: true });
    try {
      // Created while it is down: the schema misses on it.
      const missed: LocationRef = { businessId: 'biz-rt-away', locationId: 'loc-2' };
      await stack.sendMessage(
        createEnvelope('shard.create', { ...missed, businessType: 'restaurant' }),
      );
      await stack.waitForIdle(30_000);
      // Enough failed sweeps to reach `error` (its backoff is a minute or more away).
      for (let i = 0; i < ERROR_AFTER_FAILURES + 2; i++) await sweep();
      const errored = await nodeRecord(shardId, away.nodeId);
      expect(errored).toMatchObject({ status: 'error' });
      // Skipped while still down: the shard says so, and the node record is not rewritten.
      await sweep();
      expect(await nodeRecord(shardId, away.nodeId)).toMatchObject({ version: errored!.version });
      const shard = await shardRecord(shardId);
      expect(shard?.status).toBe('failed');
      expect(shard?.lastError).toContain(away.nodeId);
    } finally {
      away.setFaults({});
    }
    const back = Date.now();
    let sweeps = 0;
    const holds = () =>
      away.state.schemas.has(schemaKeyOf({ businessId: 'biz-rt-away', locationId: 'loc-2' }));
    while (sweeps < 2 && !holds()) {
      await sweep();
      sweeps++;
    }
    expect(holds()).toBe(true);
    expect(await nodeRecord(shardId, away.nodeId)).toMatchObject({ status: 'active' });
    expect((await shardRecord(shardId))?.status).toBe('active');
    console.log(
      `node back after the error threshold: repaired in ${sweeps} sweep(s), ${seconds(back)} s`,
    );
    expect(await queueDepth(stack, 'convergence-dlq')).toBe(0);
  }, 120_000);

  it('removes an orphan within its grace period + 1 sweep of the convergence that first saw it', async () => {
    const shardId = 'shard-003';
    const node = stack.fleet!.nodesOf(shardId)[1]!;
    node.state.stores.add('orphan-rt-1');
    await stack.sendMessage(createEnvelope('shard.converge', { shardId, reason: 'manual' }));
    await stack.waitForIdle(30_000);
    const seen = Date.now();
    const record = await nodeRecord(shardId, node.nodeId);
    expect(record).toMatchObject({ workPk: 'node#follow_up' });
    expect(node.state.stores.has('orphan-rt-1')).toBe(true);
    // The grace is a clock condition, not a sleep: wait until the follow-up is due.
    const due = Date.parse(String(record!.followUpAt));
    await waitFor('the orphan grace to end', () => Date.now() >= due, 30_000, 50);
    await sweep();
    expect(node.state.stores.has('orphan-rt-1')).toBe(false);
    expect(await nodeRecord(shardId, node.nodeId)).not.toHaveProperty('workPk');
    console.log(
      `orphan (grace ${ORPHAN_GRACE_SECONDS} s): removed ${seconds(seen)} s after first seen, 1 sweep`,
    );
  }, 60_000);

  it('does not let a black-holed node (connection accepted, never answered) hold its shard', async () => {
    const shardId = 'shard-002';
    const [hole, ...others] = stack.fleet!.nodesOf(shardId);
    hole!.setFaults({ timeoutRate: 1 });
    try {
      await stack.sendMessage(createEnvelope('shard.converge', { shardId, reason: 'manual' }));
      await stack.waitForIdle(30_000);
      const shard = await shardRecord(shardId);
      expect(shard?.status).toBe('failed');
      // Given up after the health check's timeout, not the request timeout.
      expect(shard?.lastError).toMatch(new RegExp(`${hole!.nodeId}: unreachable: .*timed out`));
      // The other nodes were converged meanwhile.
      for (const node of others)
        expect(await nodeRecord(shardId, node.nodeId)).toMatchObject({ status: 'active' });
      expect(await nodeRecord(shardId, hole!.nodeId)).toMatchObject({ status: 'pending_sync' });
    } finally {
      hole!.setFaults({});
    }
  }, 60_000);
});
