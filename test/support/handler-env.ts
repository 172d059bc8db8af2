// An in-process environment for handler tests: the real emulators, a simulated fleet, the
// state table, the queues and the SSM parameters, with process.env set the way the CDK stack
// and the local stack set it for a function. Import the handler only after `start()`.
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSEvent } from 'aws-lambda';
import { LOCAL } from '../../local/defaults.ts';
import {
  startDynamoDbEmulator,
  startSqsEmulator,
  startSsmEmulator,
} from '../../local/emulators/index.ts';
import { type Fleet, startFleet } from '../../local/simulators/fleet.ts';
import {
  dlqName,
  MAX_RECEIVE_COUNT,
  type QueueName,
  ssmPrefix,
} from '../../shared/contracts/names.ts';
import type { SigningKeys } from '../../shared/contracts/signing.ts';
import { createStateTable, localDynamoDb } from './table.ts';

export const TEST_SECRETS = {
  citrusApiKey: 'citrus-key-test-7c41d2',
  signingSecret: 'signing-secret-test-9a8b7c',
};
const signingKeys: SigningKeys = { current: { id: 'test-1', secret: TEST_SECRETS.signingSecret } };
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface HandlerEnv {
  fleet: Fleet;
  sqs: SQSClient;
  ddb: ReturnType<typeof localDynamoDb>;
  tableName: string;
  queueUrl: string;
  dlqUrl: string;
  /**
   * Sends bodies to the source queue and receives them back as one Lambda SQS event (only
   * these: leftovers of earlier tests are deleted).
   */
  eventOf(bodies: string[]): Promise<SQSEvent>;
  dlqMessages(): Promise<Array<{ body: string; attributes: Record<string, string> }>>;
  context(): Context;
  /** Points Citrus traffic at another URL (e.g. a fault-injecting proxy). */
  setCitrusUrl(url: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startHandlerEnv(queue: QueueName, functionName: string): Promise<HandlerEnv> {
  const [sqsEmulator, dynamo, ssmEmulator] = await Promise.all([
    startSqsEmulator({ port: 0 }),
    startDynamoDbEmulator({ port: 0 }),
    startSsmEmulator({ port: 0 }),
  ]);
  const fleet = await startFleet({
    apiKey: TEST_SECRETS.citrusApiKey,
    signingKeys,
    shards: 2,
    nodesPerShard: 3,
  });
  const region = LOCAL.region;
  const sqs = new SQSClient({ endpoint: sqsEmulator.url, region, credentials });
  const ssm = new SSMClient({ endpoint: ssmEmulator.url, region, credentials });
  const ddb = localDynamoDb(dynamo.url);
  const tableName = `shard-control-test-${functionName}`;
  await createStateTable(ddb, tableName);

  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName(queue) }));
  const dlqArn = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes?.QueueArn;
  const source = await sqs.send(
    new CreateQueueCommand({
      QueueName: queue,
      Attributes: {
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: MAX_RECEIVE_COUNT,
        }),
      },
    }),
  );
  const stage = 'test';
  const put = (name: string, value: string, secure = false) =>
    ssm.send(
      new PutParameterCommand({
        Name: `${ssmPrefix(stage)}/${name}`,
        Value: value,
        Type: secure ? 'SecureString' : 'String',
        Overwrite: true,
      }),
    );
  await Promise.all([
    put('citrus/url', fleet.citrus.url),
    put('citrus/api-key', TEST_SECRETS.citrusApiKey, true),
    put('citrus/timeout-ms', '1000'),
    put('citrus/retry-attempts', '2'),
    put('node-agent/signing-keys', JSON.stringify(signingKeys), true),
    put('node-agent/timeout-ms', '500'),
  ]);

  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: sqsEmulator.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    AWS_ENDPOINT_URL_SSM: ssmEmulator.url,
    STAGE: stage,
    TABLE_NAME: tableName,
    SOURCE_QUEUE_URL: source.QueueUrl,
    DLQ_URL: dlq.QueueUrl,
    CONFIG_MAX_AGE_SECONDS: '0',
    RETRY_BASE_SECONDS: '1',
    POWERTOOLS_SERVICE_NAME: functionName,
    POWERTOOLS_METRICS_NAMESPACE: 'ShardControl',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  });

  return {
    fleet,
    sqs,
    ddb,
    tableName,
    queueUrl: source.QueueUrl as string,
    dlqUrl: dlq.QueueUrl as string,
    async eventOf(bodies) {
      const sent = new Set<string>();
      for (let i = 0; i < bodies.length; i += 10) {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: source.QueueUrl,
            Entries: bodies
              .slice(i, i + 10)
              .map((body, j) => ({ Id: `m${i + j}`, MessageBody: body })),
          }),
        );
        for (const ok of out.Successful ?? []) sent.add(ok.MessageId as string);
      }
      const records: SQSEvent['Records'] = [];
      while (records.length < bodies.length) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: source.QueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        for (const m of Messages) {
          // A record an earlier test left failed comes back once its retry delay has passed:
          // it is not part of this event, and nothing waits for it any more.
          if (!sent.has(m.MessageId as string)) {
            await sqs.send(
              new DeleteMessageCommand({
                QueueUrl: source.QueueUrl,
                ReceiptHandle: m.ReceiptHandle,
              }),
            );
            continue;
          }
          records.push({
            messageId: m.MessageId as string,
            receiptHandle: m.ReceiptHandle as string,
            body: m.Body as string,
            attributes: {
              ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
              SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
              SenderId: 'test',
              ApproximateFirstReceiveTimestamp: '0',
            },
            messageAttributes: {},
            md5OfBody: m.MD5OfBody as string,
            eventSource: 'aws:sqs',
            eventSourceARN: `arn:aws:sqs:${region}:${LOCAL.accountId}:${queue}`,
            awsRegion: region,
          });
        }
      }
      return { Records: records };
    },
    async dlqMessages() {
      const out: Array<{ body: string; attributes: Record<string, string> }> = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: dlq.QueueUrl,
            MaxNumberOfMessages: 10,
            MessageAttributeNames: ['All'],
            VisibilityTimeout: 60,
          }),
        );
        if (Messages.length === 0) return out;
        for (const m of Messages) {
          const attributes = Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
          );
          out.push({ body: m.Body as string, attributes });
        }
      }
    },
    context() {
      const deadline = Date.now() + 60_000;
      return {
        callbackWaitsForEmptyEventLoop: false,
        functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${region}:${LOCAL.accountId}:function:${functionName}`,
        memoryLimitInMB: '512',
        awsRequestId: crypto.randomUUID(),
        logGroupName: `/aws/lambda/${functionName}`,
        logStreamName: 'test',
        getRemainingTimeInMillis: () => deadline - Date.now(),
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      };
    },
    setCitrusUrl: (url) => put('citrus/url', url).then(() => undefined),
    async stop() {
      await fleet.stop();
      await Promise.all([sqsEmulator.stop(), dynamo.stop(), ssmEmulator.stop()]);
    },
  };
}
