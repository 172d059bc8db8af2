import { createConnection } from 'node:net';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL } from '../../local/defaults.ts';
import { EPHEMERAL_PORTS, type LocalStack, startLocalStack } from '../../local/stack.ts';
import { dlqName, MAX_RECEIVE_COUNT, QUEUES } from '../../shared/contracts/names.ts';

const EPHEMERAL = EPHEMERAL_PORTS;

const isBound = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { port } = new URL(url);
    const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('local stack smoke test', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      ports: EPHEMERAL,
      log: 'quiet',
      fleet: { shards: 2, nodesPerShard: 2 },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates the contract queues with their redrive policy', async () => {
    for (const q of QUEUES) {
      expect(stack.queues[q]).toBe(`${stack.endpoints.sqs}/000000000000/${q}`);
      expect(stack.queues[dlqName(q)]).toBeDefined();
    }
    const attrs = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queues['shard-creation'],
        AttributeNames: ['All'],
      }),
    );
    expect(JSON.parse(attrs.Attributes!.RedrivePolicy!)).toMatchObject({
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
  });

  it('creates the table with TTL and preloads the local parameters', async () => {
    const table = await stack.ddb.send(new DescribeTableCommand({ TableName: stack.tableName }));
    expect(table.Table?.GlobalSecondaryIndexes?.length).toBe(3);
    const ttl = await stack.ddb.send(new DescribeTimeToLiveCommand({ TableName: stack.tableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    const get = async (name: string) =>
      (
        await stack.ssm.send(
          new GetParameterCommand({ Name: `/shard-control/local/${name}`, WithDecryption: true }),
        )
      ).Parameter;
    expect((await get('citrus/url'))?.Value).toBe(stack.endpoints.citrus);
    expect(await get('citrus/api-key')).toMatchObject({
      Type: 'SecureString',
      Value: LOCAL.citrusApiKey,
    });
    expect((await get('node-agent/signing-keys'))?.Value).toBe(LOCAL.nodeSigningKeys);
    expect((await get('reconcile/orphan-grace-seconds'))?.Value).toBe('30');
    expect((await get('citrus/timeout-ms'))?.Value).toBe('5000');
  });

  it('runs the shard-creation function from its bundle and drains the queue', async () => {
    const before = stack.pollers.find((p) => p.spec.queueName === 'shard-creation')!.stats.received;
    await stack.sendMessage({
      type: 'shard.create',
      version: 1,
      id: 'smoke-1',
      occurredAt: '2026-11-22T10:00:00.000Z',
      data: { businessId: 'biz-smoke', locationId: 'loc-smoke', businessType: 'restaurant' },
    });
    await stack.waitForIdle(60_000);
    expect(
      stack.pollers.find((p) => p.spec.queueName === 'shard-creation')!.stats.received,
    ).toBeGreaterThan(before);
  }, 90_000);

  it('rejects an invalid message before sending', async () => {
    await expect(
      // @ts-expect-error: deliberately not a contract message
      stack.sendMessage({ type: 'shard.create', version: 1, id: 'x', occurredAt: 'now', data: {} }),
    ).rejects.toThrow(/not a valid message/);
  });

  it('stops with no port left bound', async () => {
    const urls = [
      stack.endpoints.sqs,
      stack.endpoints.dynamodb,
      stack.endpoints.ssm,
      stack.endpoints.citrus,
      ...stack.endpoints.nodes,
    ];
    expect(await Promise.all(urls.map(isBound))).toEqual(urls.map(() => true));
    await stack.stop();
    expect(await Promise.all(urls.map(isBound))).toEqual(urls.map(() => false));
    expect([...stack.pools.values()].every((p) => p.workers === 0)).toBe(true);
  }, 30_000);
});
