// Shard creation and dead letters with Citrus failing: a partial batch failure redelivers only
// the failed record; a Citrus outage that outlasts the retry ladder sends the message to the
// DLQ, and a StartMessageMoveTask redrive (real SDK against the local SQS) then processes it
// once. The stacks talk to their "external" Citrus through a proxy that can fail chosen
// locations.
import { ListMessageMoveTasksCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL } from '../../local/defaults.ts';
import { type Fleet, startFleet } from '../../local/simulators/fleet.ts';
import type { LocalStack, LocalStackOptions } from '../../local/stack.ts';
import { ShardControlProducer } from '../../shared/contracts/producer.ts';
import { SigningKeys } from '../../shared/contracts/signing.ts';
import {
  type CitrusProxy,
  FASTER_RETRY_ENV,
  type LocationRef,
  locationRecord,
  peekAll,
  queueArn,
  queueDepth,
  requestsTo,
  schemaKeyOf,
  schemaPath,
  startCitrusProxy,
  startTestStack,
  stopAndCheckPorts,
  visibleCount,
  waitFor,
} from './support.ts';

describe('shard creation with Citrus failing', () => {
  let fleet: Fleet;
  let proxy: CitrusProxy;
  let stack: LocalStack;
  let producer: ShardControlProducer;
  const poller = () => stack.pollers.find((p) => p.spec.queueName === 'shard-creation')!;

  beforeAll(async () => {
    fleet = await startFleet({
      shards: 2,
      nodesPerShard: 3,
      apiKey: LOCAL.citrusApiKey,
      signingKeys: SigningKeys.parse(JSON.parse(LOCAL.nodeSigningKeys)),
    });
    proxy = await startCitrusProxy(fleet.citrus.url);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await fleet?.stop();
  }, 30_000);

  /** Each describe below runs its own stack on the shared Citrus and proxy. */
  const startStack = async (overrides: LocalStackOptions = {}) => {
    stack = await startTestStack({
      citrusServerUrl: proxy.url,
      functionEnv: FASTER_RETRY_ENV,
      ...overrides,
    });
    producer = new ShardControlProducer({ sqs: stack.sqs, queueUrls: stack.queues });
  };

  const schemaEverywhere = async (l: LocationRef) => {
    const record = await locationRecord(stack, l);
    if (record?.status !== 'active' || !record.shardId) return false;
    return fleet.nodesOf(record.shardId).every((n) => n.state.schemas.has(schemaKeyOf(l)));
  };
  /** Schema PUTs each node of the location's shard answered (2xx). */
  const schemaPutsPerNode = async (l: LocationRef) => {
    const record = await locationRecord(stack, l);
    return fleet
      .nodesOf(record!.shardId!)
      .map(
        (n) =>
          requestsTo(n, 'PUT', schemaPath(l)).filter((r) => r.status >= 200 && r.status < 300)
            .length,
      );
  };

  describe('on the full retry ladder', () => {
    // The first stack of the file pays for the synthesis (bundles every function).
    beforeAll(() => startStack(), 120_000);
    afterAll(() => stopAndCheckPorts(stack), 30_000);

    it('redelivers only the failed record of a batch', async () => {
      const locations = Array.from({ length: 10 }, (_, i) => ({
        businessId: 'biz-batch',
        locationId: `loc-${i}`,
        businessType: 'salon',
      }));
      const failing = locations[3]!;
      proxy.failRegister.add(schemaKeyOf(failing));
      const before = { ...poller().stats };

      const sent = await producer.sendShardCreates(locations);
      expect(sent.failed).toEqual([]);
      const others = locations.filter((l) => l !== failing);
      await waitFor('the other nine locations on every node', async () => {
        for (const l of others) if (!(await schemaEverywhere(l))) return false;
        return true;
      });
      // The failing one has been tried and reported back, and is waiting for its redelivery.
      await waitFor('a failed delivery', () => poller().stats.failed > before.failed);
      expect((await locationRecord(stack, failing))?.status).not.toBe('active');

      proxy.failRegister.delete(schemaKeyOf(failing));
      await stack.waitForIdle(30_000);
      expect(await schemaEverywhere(failing)).toBe(true);

      for (const l of others) {
        // Registered once, pushed once per node: their records were not redelivered.
        expect(proxy.registerCalls.get(schemaKeyOf(l))).toEqual({ seen: 1, forwarded: 1, ok: 1 });
        expect(await schemaPutsPerNode(l)).toEqual([1, 1, 1]);
      }
      const failed = proxy.registerCalls.get(schemaKeyOf(failing))!;
      expect(failed.seen).toBeGreaterThan(1);
      expect(failed.ok).toBe(1);
      expect(await schemaPutsPerNode(failing)).toEqual([1, 1, 1]);
      const stats = poller().stats;
      const redeliveries = stats.failed - before.failed;
      expect(redeliveries).toBeGreaterThanOrEqual(1);
      expect(stats.received - before.received).toBe(locations.length + redeliveries);
      expect(stats.deleted - before.deleted).toBe(locations.length);
      expect(await queueDepth(stack, 'shard-creation-dlq')).toBe(0);
    }, 45_000);
  });

  describe('with maxReceiveCount lowered to 5', () => {
    // The real count stretches the ladder over 720 x base (12 min at 0.5 s): too long to
    // watch here. Five receives still exercise the redrive policy and the replay.
    // A quarter-second base still climbs the ladder (visibility at most 0, 0, 1, 2, 4 s).
    const lowCount = 5;
    beforeAll(
      () => startStack({ maxReceiveCount: lowCount, functionEnv: { RETRY_BASE_SECONDS: '0.25' } }),
      60_000,
    );
    afterAll(() => stopAndCheckPorts(stack), 30_000);

    it('dead-letters after maxReceiveCount while Citrus is down, then a redrive processes it once', async () => {
      const loc = { businessId: 'biz-outage', locationId: 'loc-1', businessType: 'gym' };
      const before = { ...poller().stats };
      fleet.citrus.setFaults({ errorRate: 1 });
      try {
        await producer.sendShardCreates([loc]);
        // Receives 1..5 fail (each delayed along the ladder), the 6th dead-letters it.
        await waitFor(
          'the message in shard-creation-dlq',
          async () => (await queueDepth(stack, 'shard-creation-dlq')) === 1,
          40_000,
          250,
        );
      } finally {
        fleet.citrus.setFaults({});
      }
      expect(poller().stats.failed - before.failed).toBe(lowCount);
      expect(poller().stats.deleted - before.deleted).toBe(0);
      expect(await queueDepth(stack, 'shard-creation')).toBe(0);
      const [dead] = await peekAll(stack, 'shard-creation-dlq');
      expect(JSON.parse(dead!.Body!)).toMatchObject({ type: 'shard.create', data: loc });
      expect((await locationRecord(stack, loc))?.status).not.toBe('active');
      const nodesWithSchema = fleet.nodes.filter((n) => n.state.schemas.has(schemaKeyOf(loc)));
      expect(nodesWithSchema).toEqual([]);

      // Citrus is back: the operator redrives the DLQ to its source queue.
      const registrationsBefore = fleet.citrus.registrations;
      const dlqArn = await queueArn(stack, 'shard-creation-dlq');
      expect(await visibleCount(stack, 'shard-creation-dlq')).toBe(1);
      const task = await stack.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
      expect(task.TaskHandle).toBeTruthy();
      const done = await waitFor('the move task to complete', async () => {
        const out = await stack.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
        const result = out.Results?.[0];
        return result?.Status === 'COMPLETED' ? result : undefined;
      });
      expect(done.ApproximateNumberOfMessagesMoved).toBe(1);
      await stack.waitForIdle(20_000);

      expect(await schemaEverywhere(loc)).toBe(true);
      expect(fleet.citrus.registrations - registrationsBefore).toBe(1);
      expect(proxy.registerCalls.get(schemaKeyOf(loc))?.ok).toBe(1);
      expect(await schemaPutsPerNode(loc)).toEqual([1, 1, 1]);
      expect(poller().stats.deleted - before.deleted).toBe(1);
      expect(await queueDepth(stack, 'shard-creation-dlq')).toBe(0);
      expect(await queueDepth(stack, 'shard-creation')).toBe(0);
    }, 60_000);
  });
});
