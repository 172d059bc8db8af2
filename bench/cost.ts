// The cost model: what one message of each kind costs through the real handlers (imported
// in-process, one record per invocation, after a warm-up): DynamoDB requests by operation
// (SDK middleware on the functions' own client), Citrus and node agent requests (counted by the
// simulators), and the function thread's CPU time. DynamoDB and the fleet run on worker
// threads, so that CPU time is the function's own work, as it would be in Lambda.
import { once } from 'node:events';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL } from '../local/defaults.ts';
import { startSqsEmulator, startSsmEmulator } from '../local/emulators/index.ts';
import { startTsWorker } from '../local/runtime/ts-worker.ts';
import { dlqName, type QueueName, ssmPrefix } from '../shared/contracts/names.ts';
import { createEnvelope } from '../shared/contracts/producer.ts';
import { createStateTable, localDynamoDb } from '../test/support/table.ts';
import { type Benchmark, round, table } from './benchmark.ts';
import { startRemoteDynamoDb } from './support/remote.ts';
import { threadCpuMs } from './support/thread-cpu.ts';

/** DynamoDB requests per message (issue targets); the other figures are reported. */
export const TARGETS: Record<string, number> = {
  'shard.create': 6,
  'shard.create duplicate': 3,
  'workspace.created': 4,
  'workspace.created duplicate': 2,
  'workspace.deleted': 4,
  'shard.converge quiet': 4,
};
/** Messages measured per kind; the figures are means. */
const PER_KIND = 12;
const CONVERGED_STORES = 100;
const NODE_LATENCY_MS = 2;
const STAGE = 'bench';
const TABLE = `shard-control-bench-cost-${Date.now()}`;
const API_KEY = 'bench-citrus-key';
const SIGNING = { current: { id: 'bench-1', secret: 'bench-signing-secret' } };
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface KindCost {
  dynamodbRequests: number;
  byOperation: Record<string, number>;
  citrusRequests: number;
  nodeRequests: number;
  cpuMs: number;
}
export interface CostResult {
  messages: Record<string, KindCost>;
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

function context(functionName: string): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL.region}:${LOCAL.accountId}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const record = (body: string, queue: QueueName): SQSRecord => ({
  messageId: crypto.randomUUID(),
  receiptHandle: 'bench',
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: String(Date.now()),
    SenderId: 'bench',
    ApproximateFirstReceiveTimestamp: String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: `arn:aws:sqs:${LOCAL.region}:${LOCAL.accountId}:${queue}`,
  awsRegion: LOCAL.region,
});

/** The simulated Citrus and nodes on their own thread (bench/support/fleet.worker.ts). */
async function startRemoteFleet() {
  const worker = startTsWorker(new URL('./support/fleet.worker.ts', import.meta.url), {
    workerData: {
      apiKey: API_KEY,
      signingKeys: SIGNING,
      shards: 2,
      nodesPerShard: 3,
      latencyMs: NODE_LATENCY_MS,
    },
  });
  const [ready] = (await once(worker, 'message')) as [{ citrusUrl: string }];
  return {
    citrusUrl: ready.citrusUrl,
    async stats() {
      worker.postMessage('stats');
      const [stats] = (await once(worker, 'message')) as [
        { citrusRequests: number; nodeRequests: number },
      ];
      return stats;
    },
    async stop() {
      worker.postMessage('stop');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

export const cost: Benchmark<CostResult> = {
  name: 'cost',
  description: `requests and CPU per message through the real handlers (mean of ${PER_KIND} per kind, 3-node shards)`,
  async run() {
    const [dynamo, fleet, sqsEmulator, ssmEmulator] = await Promise.all([
      startRemoteDynamoDb(),
      startRemoteFleet(),
      startSqsEmulator({ port: 0 }),
      startSsmEmulator({ port: 0 }),
    ]);
    try {
      const setup = localDynamoDb(dynamo.url);
      await createStateTable(setup, TABLE);
      setup.destroy();
      const sqs = new SQSClient({ endpoint: sqsEmulator.url, region: LOCAL.region, credentials });
      const queueUrls = {} as Record<QueueName | `${QueueName}-dlq`, string>;
      for (const queue of ['shard-creation', 'workspace-lifecycle', 'convergence'] as const) {
        for (const name of [queue, dlqName(queue)] as const) {
          queueUrls[name] = (await sqs.send(new CreateQueueCommand({ QueueName: name })))
            .QueueUrl as string;
        }
      }
      const ssm = new SSMClient({ endpoint: ssmEmulator.url, region: LOCAL.region, credentials });
      const put = (name: string, value: string, secure = false) =>
        ssm.send(
          new PutParameterCommand({
            Name: `${ssmPrefix(STAGE)}/${name}`,
            Value: value,
            Type: secure ? 'SecureString' : 'String',
            Overwrite: true,
          }),
        );
      await Promise.all([
        put('citrus/url', fleet.citrusUrl),
        put('citrus/api-key', API_KEY, true),
        put('node-agent/signing-keys', JSON.stringify(SIGNING), true),
      ]);
      Object.assign(process.env, {
        AWS_REGION: LOCAL.region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_SQS: sqsEmulator.url,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
        AWS_ENDPOINT_URL_SSM: ssmEmulator.url,
        STAGE,
        TABLE_NAME: TABLE,
        // Configuration is read once and cached, as in a warm sandbox.
        CONFIG_MAX_AGE_SECONDS: '3600',
        POWERTOOLS_METRICS_NAMESPACE: 'ShardControl/bench',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        POWERTOOLS_METRICS_DISABLED: 'true',
      });
      // Each handler reads its queue URLs when its module loads: load them one at a time.
      const load = async (queue: QueueName, module: string): Promise<Handler> => {
        process.env.SOURCE_QUEUE_URL = queueUrls[queue];
        process.env.DLQ_URL = queueUrls[dlqName(queue)];
        return ((await import(module)) as { handler: Handler }).handler;
      };
      const shardCreation = await load('shard-creation', '../functions/shard-creation/handler.ts');
      const workspaces = await load(
        'workspace-lifecycle',
        '../functions/workspace-lifecycle/handler.ts',
      );
      const converge = await load('convergence', '../functions/converge-shard/handler.ts');
      const { stores } = await import('../shared/lambda/clients.ts');
      const operations = new Map<string, number>();
      stores.table.db.middlewareStack.add(
        (next, ctx) => (args) => {
          const op = String(ctx.commandName).replace(/Command$/, '');
          operations.set(op, (operations.get(op) ?? 0) + 1);
          return next(args);
        },
        { step: 'initialize', name: 'benchCostCounter' },
      );

      const invoke = async (handler: Handler, name: string, queue: QueueName, body: string) => {
        const result = await handler({ Records: [record(body, queue)] }, context(name));
        if (result?.batchItemFailures.length) throw new Error(`${name} failed a record: ${body}`);
      };
      /** Runs the messages one by one and returns the mean cost of one. */
      const measure = async (send: Array<() => Promise<void>>): Promise<KindCost> => {
        operations.clear();
        const before = await fleet.stats();
        let busy = 0;
        for (const one of send) {
          const cpu = threadCpuMs();
          await one();
          busy += threadCpuMs() - cpu;
        }
        const after = await fleet.stats();
        const n = send.length;
        const total = [...operations.values()].reduce((a, b) => a + b, 0);
        return {
          dynamodbRequests: round(total / n, 2),
          byOperation: Object.fromEntries([...operations].map(([op, c]) => [op, round(c / n, 2)])),
          citrusRequests: round((after.citrusRequests - before.citrusRequests) / n, 2),
          nodeRequests: round((after.nodeRequests - before.nodeRequests) / n, 2),
          cpuMs: round(busy / n, 2),
        };
      };

      const location = (i: number) => ({
        businessId: 'biz-cost',
        locationId: `loc-${i}`,
        businessType: 'restaurant',
      });
      const createLocation = (i: number) => () =>
        invoke(
          shardCreation,
          'shard-creation',
          'shard-creation',
          JSON.stringify(createEnvelope('shard.create', location(i))),
        );
      const workspaceBody = (
        type: 'workspace.created' | 'workspace.deleted',
        id: string,
        i: number,
      ) =>
        JSON.stringify(
          createEnvelope(type, {
            workspaceId: id,
            userId: 'u1',
            businessId: 'biz-cost',
            locationId: `loc-${i % PER_KIND}`,
          }),
        );
      const deliver = (body: string) => () =>
        invoke(workspaces, 'workspace-lifecycle', 'workspace-lifecycle', body);
      const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

      // Warm-up: every shard exists, every sandbox has loaded its configuration.
      for (const i of range(1000, 8)) await createLocation(i)();

      const messages: Record<string, KindCost> = {};
      messages['shard.create'] = await measure(range(0, PER_KIND).map(createLocation));
      messages['shard.create duplicate'] = await measure(range(0, PER_KIND).map(createLocation));
      // A warm workspace sandbox has read each location's assignment once already (it never
      // changes): the first workspace of a location in a sandbox costs one GetItem more.
      messages['workspace.created (first of its location)'] = await measure(
        range(0, PER_KIND).map((i) =>
          deliver(workspaceBody('workspace.created', `ws-first-${i}`, i)),
        ),
      );
      const created = range(0, PER_KIND).map((i) =>
        workspaceBody('workspace.created', `ws-cost-${i}`, i),
      );
      messages['workspace.created'] = await measure(created.map(deliver));
      // The same messages delivered again (SQS delivers at least once).
      messages['workspace.created duplicate'] = await measure(created.map(deliver));
      messages['workspace.deleted'] = await measure(
        range(0, PER_KIND).map((i) =>
          deliver(workspaceBody('workspace.deleted', `ws-cost-${i}`, i)),
        ),
      );

      // A converged shard holding CONVERGED_STORES stores, converged again.
      const shardId = (await stores.locations.get(location(0)))?.shardId;
      if (!shardId) throw new Error('the first location was not registered');
      for (const i of range(5000, CONVERGED_STORES)) {
        await stores.resources.putStore(
          shardId,
          `ws-seeded-${i}`,
          'active',
          '2026-01-01T00:00:00.000Z#0',
        );
      }
      const convergeJob = () =>
        invoke(
          converge,
          'converge-shard',
          'convergence',
          JSON.stringify(createEnvelope('shard.converge', { shardId, reason: 'manual' })),
        );
      await convergeJob();
      messages['shard.converge quiet'] = await measure(range(0, PER_KIND).map(() => convergeJob));
      return { messages };
    } finally {
      await Promise.all([fleet.stop(), dynamo.stop(), sqsEmulator.stop(), ssmEmulator.stop()]);
    }
  },
  format(r) {
    return table(
      ['message', 'DynamoDB', 'target', 'Citrus', 'node', 'CPU ms', 'by operation'],
      Object.entries(r.messages).map(([kind, c]) => [
        kind,
        c.dynamodbRequests,
        TARGETS[kind] === undefined ? '' : `<= ${TARGETS[kind]}`,
        c.citrusRequests,
        c.nodeRequests,
        c.cpuMs,
        JSON.stringify(c.byOperation),
      ]),
    );
  },
  passed(r) {
    return Object.entries(TARGETS).every(
      ([kind, target]) => (r.messages[kind]?.dynamodbRequests ?? Infinity) <= target,
    );
  },
};
