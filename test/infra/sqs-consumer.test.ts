import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { QueueWithDlq } from '../../infra/constructs/queue-with-dlq.ts';
import { SqsConsumer, type SqsConsumerProps } from '../../infra/constructs/sqs-consumer.ts';
import { MAX_RECEIVE_COUNT } from '../../shared/contracts/names.ts';
import { testApp } from './support.ts';

const entry = fileURLToPath(new URL('./fixtures/consumer/handler.ts', import.meta.url));

// Validation and wiring tests skip bundling; one stack bundles.
const newStack = (bundle = false) => {
  const app = testApp({ bundle });
  const stack = new Stack(app, 'ConsumerTest');
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });
  return { stack, table };
};

/** The queue pair a consumer attaches to, sized for a function timeout of `timeoutSeconds`. */
const queuePair = (
  scope: Stack,
  timeoutSeconds: number,
  queueName: 'shard-creation' | 'convergence' = 'shard-creation',
) =>
  new QueueWithDlq(scope, `Queues${queueName}`, {
    stage: 'test',
    queueName,
    visibilityTimeout: Duration.seconds(timeoutSeconds * 6),
  });

// The valid case bundles the tiny fixture once for the file.
const { stack, table } = newStack(true);
const consumer = new SqsConsumer(stack, 'Consumer', {
  stage: 'test',
  functionName: 'shard-creation',
  queue: queuePair(stack, 20),
  entry,
  table,
  timeout: Duration.seconds(20),
  memorySize: 1024,
  batchSize: 50,
  maxBatchingWindow: Duration.seconds(2),
  maxConcurrency: 3,
  environment: { EXTRA: 'yes' },
});
const template = Template.fromStack(stack);

describe('SqsConsumer', () => {
  it('consumes a queue pair whose visibility timeout is 6x the function timeout', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'shard-control-test-shard-creation',
      VisibilityTimeout: 120,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'shard-control-test-shard-creation-dlq',
      MessageRetentionPeriod: 1_209_600,
    });
    expect(consumer.queues.visibilityTimeout.toSeconds()).toBe(120);
  });

  it('configures the function (runtime, arch, memory, tracing, env incl. extras)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'shard-control-test-shard-creation',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 20,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: {
          STAGE: 'test',
          POWERTOOLS_SERVICE_NAME: 'shard-creation',
          POWERTOOLS_METRICS_NAMESPACE: 'ShardControl/test',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          EXTRA: 'yes',
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/shard-control-test-shard-creation',
      RetentionInDays: 30,
    });
  });

  it('maps the queue with partial batch responses, batching and a concurrency cap', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it('alarms on DLQ depth, oldest message age, function errors and records still retrying', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'Errors',
      'RetriedReceiveCount',
    ]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: metric });
    }
  });

  it('creates no queue of its own', () => {
    const { stack: s, table: t } = newStack();
    const queues = new QueueWithDlq(s, 'Pair', {
      stage: 'test',
      queueName: 'convergence',
      visibilityTimeout: Duration.seconds(60),
    });
    const attached = new SqsConsumer(s, 'C', {
      stage: 'test',
      functionName: 'converge-shard',
      queue: queues,
      entry,
      table: t,
      timeout: Duration.seconds(10),
    });
    expect(attached.queues).toBe(queues);
    Template.fromStack(s).resourceCountIs('AWS::SQS::Queue', 2);
  });
});

describe('SqsConsumer prop validation', () => {
  const attempt = (overrides: Partial<SqsConsumerProps>) => () => {
    const { stack: s, table: t } = newStack();
    new SqsConsumer(s, 'C', {
      stage: 'test',
      functionName: 'shard-creation',
      queue: queuePair(s, 60),
      entry,
      table: t,
      ...overrides,
    });
  };

  it.each([
    [{ timeout: Duration.seconds(61) }, /below 6x the function timeout \(366 s\)/],
    [{ timeout: Duration.seconds(901) }, /timeout \(seconds\) must be an integer in 1\.\.900/],
    [{ batchSize: 0 }, /batchSize must be an integer in 1\.\.10000/],
    [{ batchSize: 10_001 }, /batchSize must be an integer in 1\.\.10000/],
    [{ batchSize: 11 }, /batchSize above 10 requires a maxBatchingWindow/],
    [{ maxConcurrency: 1 }, /maxConcurrency must be an integer in 2\.\.1000/],
    [{ maxConcurrency: 1001 }, /maxConcurrency must be an integer in 2\.\.1000/],
    [
      { maxBatchingWindow: Duration.seconds(301) },
      /maxBatchingWindow \(seconds\) must be an integer in 0\.\.300/,
    ],
    [{ memorySize: 64 }, /memorySize must be an integer in 128\.\.10240/],
    [{ functionName: 'Bad_Name' }, /functionName must match/],
    [{ entry: '/nonexistent/handler.ts' }, /entry \/nonexistent\/handler.ts does not exist/],
    [{ environment: { STAGE: 'other' } }, /environment may not override STAGE/],
  ] as [Partial<SqsConsumerProps>, RegExp][])('rejects %o', (overrides, message) => {
    expect(attempt(overrides)).toThrow(message);
  });

  it('accepts a visibility timeout of exactly 6x', () => {
    expect(attempt({ timeout: Duration.seconds(60) })).not.toThrow();
  });

  it('rejects an attached queue pair whose visibility timeout is too short', () => {
    const { stack: s, table: t } = newStack();
    const queues = new QueueWithDlq(s, 'Pair', {
      stage: 'test',
      queueName: 'convergence',
      visibilityTimeout: Duration.seconds(30),
    });
    expect(
      () =>
        new SqsConsumer(s, 'C', {
          stage: 'test',
          functionName: 'converge-shard',
          queue: queues,
          entry,
          table: t,
          timeout: Duration.seconds(60),
        }),
    ).toThrow(/visibility timeout 30 s is below 6x/);
  });
});

describe('QueueWithDlq prop validation', () => {
  it('rejects a visibility timeout above the SQS maximum of 12 h', () => {
    const { stack: s } = newStack();
    expect(
      () =>
        new QueueWithDlq(s, 'Q', {
          stage: 'test',
          queueName: 'convergence',
          visibilityTimeout: Duration.hours(13),
        }),
    ).toThrow(/visibilityTimeout must be 1\.\.43200/);
  });
});
