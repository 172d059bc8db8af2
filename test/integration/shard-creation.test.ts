// Shard creation on the local stack (bundled handlers, real SDK, real HTTP): schema on every node,
// poison straight to the DLQ, an offline node never fails the message. One stack for the
// file; each test uses its own business locations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import {
  type LocationRef,
  locationRecord,
  nodeRecords,
  peekAll,
  queueDepth,
  requestsTo,
  schemaKeyOf,
  schemaPath,
  startTestStack,
  stopAndCheckPorts,
} from './support.ts';

describe('shard creation on the local stack', () => {
  let stack: LocalStack;
  const poller = () => stack.pollers.find((p) => p.spec.queueName === 'shard-creation')!;

  beforeAll(async () => {
    stack = await startTestStack();
  }, 60_000);
  afterAll(() => stopAndCheckPorts(stack), 30_000);

  const send = (l: LocationRef, businessType = 'restaurant') =>
    stack.sendMessage(createEnvelope('shard.create', { ...l, businessType }));

  it('initialises the schema on every node of the assigned shard and records the location active', async () => {
    const loc = { businessId: 'biz-sc-happy', locationId: 'loc-1' };
    await send(loc, 'florist');
    await stack.waitForIdle(20_000);

    const record = await locationRecord(stack, loc);
    expect(record).toMatchObject({ status: 'active', shardId: expect.stringMatching(/^shard-/) });
    const nodes = stack.fleet!.nodesOf(record!.shardId!);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      expect(node.state.schemas.get(schemaKeyOf(loc))).toEqual({ ...loc, businessType: 'florist' });
    }
    // Only that shard's nodes got it.
    for (const node of stack.fleet!.nodes.filter((n) => !nodes.includes(n))) {
      expect(node.state.schemas.has(schemaKeyOf(loc))).toBe(false);
    }
    const nodeStatus = (await nodeRecords(stack, record!.shardId!)).map((n) => n.status);
    expect(nodeStatus).toEqual(['active', 'active', 'active']);
    expect(await queueDepth(stack, 'shard-creation-dlq')).toBe(0);
  }, 30_000);

  it('moves poison messages to the DLQ with failureReason and failedAt, without retrying them', async () => {
    const before = { ...poller().stats };
    const bodies = [
      '{"type":"shard.create", this is not json (poison-1)',
      JSON.stringify({
        type: 'shard.teleport',
        version: 1,
        id: 'poison-2',
        occurredAt: '2026-11-22T10:00:00.000Z',
        data: { businessId: 'biz-poison', locationId: 'loc-2', businessType: 'restaurant' },
      }),
      JSON.stringify({
        type: 'shard.create',
        version: 1,
        id: 'poison-3',
        occurredAt: '2026-11-22T10:00:00.000Z',
        data: { businessId: 'biz-poison', locationId: 'loc-3', businessType: 'Not A Type' },
      }),
    ];
    for (const body of bodies) await stack.sendRaw('shard-creation', body);
    await stack.waitForIdle(20_000);

    const dlq = await peekAll(stack, 'shard-creation-dlq');
    for (const body of bodies) {
      const copies = dlq.filter((m) => m.Body === body);
      expect(copies, body).toHaveLength(1);
      const attrs = copies[0]!.MessageAttributes ?? {};
      expect(attrs.failureReason?.StringValue).toMatch(/\S/);
      expect(new Date(attrs.failedAt?.StringValue ?? '').toISOString()).toBe(
        attrs.failedAt?.StringValue,
      );
    }
    const reasons = dlq.map((m) => m.MessageAttributes?.failureReason?.StringValue ?? '');
    expect(reasons.join('\n')).not.toMatch(/local-citrus-api-key|local-dev-signing-secret/);
    // Seen once each by the handler, acknowledged (deleted) at once, source queue drained.
    expect(poller().stats.received - before.received).toBe(bodies.length);
    expect(poller().stats.deleted - before.deleted).toBe(bodies.length);
    expect(poller().stats.failed - before.failed).toBe(0);
    expect(await queueDepth(stack, 'shard-creation')).toBe(0);
    // Nothing reached a node for them.
    for (const node of stack.fleet!.nodes) {
      expect([...node.state.schemas.keys()].some((k) => k.startsWith('biz-poison#'))).toBe(false);
    }
  }, 30_000);

  it('marks an offline node pending_sync and still acknowledges the message', async () => {
    const fleet = stack.fleet!;
    // Placement is Citrus's choice: take node 1 of every shard offline.
    const offline = fleet.nodes.filter((n) => n.nodeId.endsWith('-node-1'));
    for (const node of offline) node.setFaults({ down: true });
    const before = { ...poller().stats };
    const loc = { businessId: 'biz-sc-offline', locationId: 'loc-1' };
    try {
      await send(loc);
      await stack.waitForIdle(20_000);
    } finally {
      for (const node of offline) node.setFaults({});
    }

    const record = await locationRecord(stack, loc);
    expect(record?.status).toBe('active');
    const shardId = record!.shardId!;
    const nodes = await nodeRecords(stack, shardId);
    const statusOf = Object.fromEntries(nodes.map((n) => [n.nodeId, n.status]));
    expect(statusOf).toEqual({
      [`${shardId}-node-1`]: 'pending_sync',
      [`${shardId}-node-2`]: 'active',
      [`${shardId}-node-3`]: 'active',
    });
    expect(nodes.find((n) => n.nodeId === `${shardId}-node-1`)?.lastError).toMatch(/schema push/);
    for (const node of fleet.nodesOf(shardId)) {
      expect(node.state.schemas.has(schemaKeyOf(loc))).toBe(!node.nodeId.endsWith('-node-1'));
    }
    // The offline node never answered: no request recorded with a status.
    const offlineNode = fleet.node(`${shardId}-node-1`);
    expect(
      requestsTo(offlineNode, 'PUT', schemaPath(loc)).filter((r) => r.status !== 0),
    ).toHaveLength(0);
    // Acknowledged on the first delivery: not retried, not in the DLQ, queue drained.
    expect(poller().stats.received - before.received).toBe(1);
    expect(poller().stats.deleted - before.deleted).toBe(1);
    expect(poller().stats.failed - before.failed).toBe(0);
    expect(await queueDepth(stack, 'shard-creation')).toBe(0);
    expect(
      (await peekAll(stack, 'shard-creation-dlq')).filter((m) => m.Body?.includes(loc.businessId)),
    ).toHaveLength(0);
  }, 30_000);
});
