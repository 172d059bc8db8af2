// The retry ladder against a long dependency outage: Citrus answers 503 to everything for
// 150 s (RETRY_BASE_SECONDS=1, so 150 base delays, well inside the ladder's 720) while valid
// shard.create messages keep failing; once it is back every location ends up registered and
// on every node of its shard, and nothing reached a DLQ. Mostly idle wall time (~3 min).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { dlqName, QUEUES } from '../../shared/contracts/names.ts';
import { ShardControlProducer } from '../../shared/contracts/producer.ts';
import {
  FAST_RETRY_ENV,
  type LocationRef,
  locationRecord,
  queueDepth,
  schemaKeyOf,
  startTestStack,
  stopAndCheckPorts,
  waitFor,
} from './support.ts';

const OUTAGE_MS = 150_000;

describe('a Citrus outage of 150 s on the retry ladder (base 1 s)', () => {
  let stack: LocalStack;
  let producer: ShardControlProducer;
  const poller = () => stack.pollers.find((p) => p.spec.queueName === 'shard-creation')!;
  const dlqDepths = async () =>
    Promise.all(QUEUES.map(async (q) => [dlqName(q), await queueDepth(stack, dlqName(q))]));

  beforeAll(async () => {
    stack = await startTestStack({ functionEnv: FAST_RETRY_ENV });
    producer = new ShardControlProducer({ sqs: stack.sqs, queueUrls: stack.queues });
  }, 120_000);
  afterAll(async () => {
    stack?.fleet?.citrus.setFaults({});
    await stopAndCheckPorts(stack);
  }, 30_000);

  const registeredEverywhere = async (l: LocationRef) => {
    const record = await locationRecord(stack, l);
    if (record?.status !== 'active' || !record.shardId) return false;
    const nodes = stack.fleet!.nodesOf(record.shardId);
    return nodes.length > 0 && nodes.every((n) => n.state.schemas.has(schemaKeyOf(l)));
  };

  it('ends with every location registered and nothing in a DLQ', async () => {
    const citrus = stack.fleet!.citrus;
    const locations = Array.from({ length: 10 }, (_, i) => ({
      businessId: 'biz-long-outage',
      locationId: `loc-${i}`,
      businessType: 'salon',
    }));
    const before = { ...poller().stats };
    const registrationsBefore = citrus.registrations;

    citrus.setFaults({ errorRate: 1 });
    const outageStart = Date.now();
    const sent = await producer.sendShardCreates(locations);
    expect(sent.failed).toEqual([]);

    // The outage is the scenario, not a wait for a condition: it lasts 150 s from the first
    // send; meanwhile the records keep failing and nothing may reach a DLQ.
    let failedDuringOutage = 0;
    let deadLettered: unknown;
    await waitFor(
      'the end of the outage',
      async () => {
        const dlq = await dlqDepths();
        if (dlq.some(([, n]) => n !== 0)) deadLettered ??= dlq;
        failedDuringOutage = poller().stats.failed - before.failed;
        return Date.now() - outageStart >= OUTAGE_MS;
      },
      OUTAGE_MS + 30_000,
      1000,
    );
    citrus.setFaults({});
    const outageEnd = Date.now();

    expect(deadLettered).toBeUndefined();
    // Every message was retried again and again (14 times each on average at base 1 s).
    expect(failedDuringOutage).toBeGreaterThanOrEqual(locations.length * 5);
    expect(citrus.registrations - registrationsBefore).toBe(0);
    expect(poller().stats.deleted - before.deleted).toBe(0);

    // A record waits at most 30 base delays (30 s) between tries; the rest is the work itself.
    await waitFor(
      'every location registered and on every node of its shard',
      async () => {
        for (const l of locations) if (!(await registeredEverywhere(l))) return false;
        return true;
      },
      120_000,
      250,
    );
    const recoverySeconds = (Date.now() - outageEnd) / 1000;
    console.log(
      `citrus-outage: ${((outageEnd - outageStart) / 1000).toFixed(1)} s outage, every location registered ${recoverySeconds.toFixed(1)} s after it ended, ${failedDuringOutage} failed deliveries during it`,
    );

    await stack.waitForIdle(60_000);
    expect(Object.fromEntries(await dlqDepths())).toEqual(
      Object.fromEntries(QUEUES.map((q) => [dlqName(q), 0])),
    );
    // Nothing valid lost: each message was processed (deleted) exactly once, after Citrus
    // registered each location.
    expect(poller().stats.deleted - before.deleted).toBe(locations.length);
    expect(citrus.registrations - registrationsBefore).toBeGreaterThanOrEqual(locations.length);
    for (const l of locations) expect(await registeredEverywhere(l)).toBe(true);
  }, 420_000);
});
