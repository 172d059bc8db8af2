// The workspace lifecycle on the local stack: a burst with duplicates ends with every store monitored
// on every node of its shard; a delete that overtakes its create wins; a workspace that
// arrives before its location's shard.create waits as pending_placement, then gets placed.
// One stack for the file; each test uses its own workspaces (and locations where needed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import type { Message } from '../../shared/contracts/messages.ts';
import { createEnvelope, ShardControlProducer } from '../../shared/contracts/producer.ts';
import {
  type LocationRef,
  locationRecord,
  queueDepth,
  startTestStack,
  stopAndCheckPorts,
  workspaceRecord,
} from './support.ts';

const BUSINESS = 'biz-ws';
const LOCATIONS: LocationRef[] = Array.from({ length: 6 }, (_, i) => ({
  businessId: BUSINESS,
  locationId: `loc-${i}`,
}));

describe('workspace lifecycle on the local stack', () => {
  let stack: LocalStack;
  let producer: ShardControlProducer;
  /** locationId -> shardId, after the locations are registered. */
  const shardOf = new Map<string, string>();

  beforeAll(async () => {
    stack = await startTestStack();
    producer = new ShardControlProducer({ sqs: stack.sqs, queueUrls: stack.queues });
    const sent = await producer.sendShardCreates(
      LOCATIONS.map((l) => ({ ...l, businessType: 'restaurant' })),
    );
    if (sent.failed.length > 0) throw new Error(`send failed: ${JSON.stringify(sent.failed)}`);
    await stack.waitForIdle(30_000);
    for (const l of LOCATIONS) {
      const record = await locationRecord(stack, l);
      if (record?.status !== 'active' || !record.shardId) {
        throw new Error(`location ${l.locationId} not registered: ${JSON.stringify(record)}`);
      }
      shardOf.set(l.locationId, record.shardId);
    }
  }, 90_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  const fleet = () => stack.fleet!;
  /** Node ids holding the store, and the node ids of the shard it should be on. */
  const holders = (workspaceId: string) =>
    fleet()
      .nodes.filter((n) => n.state.stores.has(workspaceId))
      .map((n) => n.nodeId)
      .sort();
  const nodeIdsOf = (shardId: string) =>
    fleet()
      .nodesOf(shardId)
      .map((n) => n.nodeId)
      .sort();
  const workspace = (workspaceId: string, l: LocationRef, userId = `user-${workspaceId}`) => ({
    workspaceId,
    userId,
    businessId: l.businessId,
    locationId: l.locationId,
  });

  it('places the locations on more than one shard (precondition)', () => {
    expect(new Set(shardOf.values()).size).toBeGreaterThan(1);
  });

  it('monitors every store of a burst of 100 creates plus 20 duplicates on every node of its shard', async () => {
    const creates = Array.from({ length: 100 }, (_, i) =>
      createEnvelope(
        'workspace.created',
        workspace(`ws-burst-${String(i).padStart(3, '0')}`, LOCATIONS[i % LOCATIONS.length]!),
      ),
    );
    // Duplicates are the same envelope sent again (same id), as a producer retry would do.
    const duplicates = creates.filter((_, i) => i % 5 === 2);
    expect(duplicates).toHaveLength(20);
    const poller = stack.pollers.find((p) => p.spec.queueName === 'workspace-lifecycle')!;
    const before = { ...poller.stats };

    const result = await producer.sendMany([...creates, ...duplicates] as Message[]);
    expect(result.failed).toEqual([]);
    expect(result.sent).toHaveLength(120);
    await stack.waitForIdle(45_000);

    const wrong: string[] = [];
    for (const m of creates) {
      const { workspaceId, locationId } = m.data;
      const shardId = shardOf.get(locationId)!;
      const record = await workspaceRecord(stack, workspaceId);
      if (record?.status !== 'active' || record.shardId !== shardId) {
        wrong.push(`${workspaceId}: record ${JSON.stringify(record)}`);
      }
      const on = holders(workspaceId);
      if (on.join() !== nodeIdsOf(shardId).join()) {
        wrong.push(`${workspaceId}: on [${on}] expected [${nodeIdsOf(shardId)}]`);
      }
    }
    expect(wrong).toEqual([]);
    expect(poller.stats.deleted - before.deleted).toBe(120);
    expect(await queueDepth(stack, 'workspace-lifecycle-dlq')).toBe(0);
    expect(await queueDepth(stack, 'workspace-lifecycle')).toBe(0);
  }, 60_000);

  it('keeps a workspace deleted when its delete is processed before an earlier create', async () => {
    const l = LOCATIONS[1]!;
    const createdAt = '2026-11-22T10:00:00.000Z';
    const deletedAt = '2026-11-22T10:05:00.000Z';
    // Delete processed first, then the late create.
    const first = workspace('ws-order-1', l);
    await producer.sendWorkspaceEvents([
      { type: 'workspace.deleted', data: first, occurredAt: deletedAt },
    ]);
    await stack.waitForIdle(20_000);
    await producer.sendWorkspaceEvents([
      { type: 'workspace.created', data: first, occurredAt: createdAt },
    ]);
    // Both in one batch, the delete first.
    const second = workspace('ws-order-2', LOCATIONS[2]!);
    await producer.sendWorkspaceEvents([
      { type: 'workspace.deleted', data: second, occurredAt: deletedAt },
      { type: 'workspace.created', data: second, occurredAt: createdAt },
    ]);
    await stack.waitForIdle(20_000);

    for (const id of ['ws-order-1', 'ws-order-2']) {
      expect(holders(id), id).toEqual([]);
      const record = await workspaceRecord(stack, id);
      expect(record, id).toMatchObject({ status: 'deleted', lastEventAt: deletedAt });
    }
    expect(await queueDepth(stack, 'workspace-lifecycle-dlq')).toBe(0);
  }, 30_000);

  it('holds a workspace as pending_placement until its location is registered, then monitors it', async () => {
    const late = { businessId: 'biz-ws-late', locationId: 'loc-late' };
    const ws = workspace('ws-late-1', late);
    await producer.sendWorkspaceEvents([{ type: 'workspace.created', data: ws }]);
    await stack.waitForIdle(20_000);
    expect(await workspaceRecord(stack, ws.workspaceId)).toMatchObject({
      status: 'pending_placement',
    });
    expect((await workspaceRecord(stack, ws.workspaceId))?.shardId).toBeUndefined();
    expect(holders(ws.workspaceId)).toEqual([]);
    // Acknowledged, not parked in a DLQ.
    expect(await queueDepth(stack, 'workspace-lifecycle-dlq')).toBe(0);

    await producer.sendShardCreates([{ ...late, businessType: 'bakery' }]);
    await stack.waitForIdle(20_000);
    const location = await locationRecord(stack, late);
    expect(location?.status).toBe('active');
    const shardId = location!.shardId!;
    expect(await workspaceRecord(stack, ws.workspaceId)).toMatchObject({
      status: 'active',
      shardId,
    });
    expect(holders(ws.workspaceId)).toEqual(nodeIdsOf(shardId));
  }, 30_000);
});
