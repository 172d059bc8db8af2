import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV, type QueueName } from '../../shared/contracts/names.ts';
import { markResource, physicalName } from '../naming.ts';
import { createLambdaFunction, integerIn, validateFunctionProps } from './lambda-function.ts';
import { QueueWithDlq } from './queue-with-dlq.ts';

export { metricsNamespace } from './lambda-function.ts';

/** AWS guidance for SQS event sources: visibility timeout >= 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export interface SqsConsumerProps {
  readonly stage: string;
  /** Short function name, e.g. `shard-creation`; also the Powertools service name. */
  readonly functionName: string;
  /**
   * The queue to consume: a contract queue name (the construct then creates the queue + DLQ)
   * or an existing `QueueWithDlq` (created earlier so producers could deploy before the function).
   */
  readonly queue: QueueName | QueueWithDlq;
  readonly table: dynamodb.ITable;
  /** GSIs the function queries (grants are per index, no wildcard). @default none */
  readonly tableIndexNames?: readonly string[];
  /** @default `functions/<functionName>/handler.ts` under the repository root */
  readonly entry?: string;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** Only when the construct creates the queue. @default 6x timeout */
  readonly visibilityTimeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default 10 */
  readonly batchSize?: number;
  /** @default none (invoke as soon as messages arrive) */
  readonly maxBatchingWindow?: Duration;
  /** Caps concurrent invocations (protects downstream services). @default no cap */
  readonly maxConcurrency?: number;
  /** Extra environment variables; may not override the ones the construct sets. */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** For the log group (and the queues when created here). @default RETAIN for the log group */
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
  /** Only when the construct creates the queue. @default 15 minutes */
  readonly oldestMessageAgeThreshold?: Duration;
}

const fail = (name: string, message: string): never => {
  throw new Error(`SqsConsumer ${name}: ${message}`);
};

/**
 * One consumed queue: the queue pair (owned or attached), the Lambda function, its event source
 * mapping with partial batch responses, IAM grants and alarms.
 */
export class SqsConsumer extends Construct {
  readonly queues: QueueWithDlq;
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly eventSourceMapping: lambda.EventSourceMapping;
  readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SqsConsumerProps) {
    super(scope, id);
    const name = props.functionName;
    const errorPrefix = `SqsConsumer ${name}`;
    const timeout = props.timeout ?? Duration.seconds(30);
    const timeoutSeconds = timeout.toSeconds();
    const entry = validateFunctionProps({ ...props, timeout, errorPrefix });
    const batchSize = props.batchSize ?? 10;
    integerIn(errorPrefix, 'batchSize', batchSize, 1, 10_000);
    const windowSeconds = props.maxBatchingWindow?.toSeconds() ?? 0;
    integerIn(errorPrefix, 'maxBatchingWindow (seconds)', windowSeconds, 0, 300);
    if (batchSize > 10 && windowSeconds < 1) {
      fail(name, 'batchSize above 10 requires a maxBatchingWindow of at least 1 second');
    }
    if (props.maxConcurrency !== undefined) {
      integerIn(errorPrefix, 'maxConcurrency', props.maxConcurrency, 2, 1000);
    }
    const minVisibility = timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

    if (props.queue instanceof QueueWithDlq) {
      if (props.visibilityTimeout || props.oldestMessageAgeThreshold) {
        fail(
          name,
          'visibilityTimeout/oldestMessageAgeThreshold belong to the attached QueueWithDlq',
        );
      }
      this.queues = props.queue;
    } else {
      const visibility = props.visibilityTimeout ?? Duration.seconds(minVisibility);
      checkVisibility(name, visibility, minVisibility);
      this.queues = new QueueWithDlq(this, 'Queues', {
        stage: props.stage,
        queueName: props.queue,
        visibilityTimeout: visibility,
        oldestMessageAgeThreshold: props.oldestMessageAgeThreshold,
        alarmTopic: props.alarmTopic,
        removalPolicy: props.removalPolicy,
      });
    }
    checkVisibility(name, this.queues.visibilityTimeout, minVisibility);

    const parts = createLambdaFunction(this, {
      stage: props.stage,
      functionName: name,
      entry,
      timeout,
      memorySize: props.memorySize,
      table: props.table,
      tableIndexNames: props.tableIndexNames,
      ownEnvironment: {
        [ENV.sourceQueueUrl]: this.queues.queue.queueUrl,
        [ENV.dlqUrl]: this.queues.dlq.queueUrl,
      },
      environment: props.environment,
      description: `${physicalName(props.stage, name)} (SQS consumer of ${this.queues.queueName})`,
      errorsMeaning:
        'crashed or timed out (record failures are partial batch responses, not errors).',
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      alarmTopic: props.alarmTopic,
      errorPrefix,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.logGroup = parts.logGroup;
    this.errorsAlarm = parts.errorsAlarm;
    markResource(this.function, { kind: 'function', name, sourceQueue: this.queues.queueName });

    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'EventSourceMapping', {
      target: this.function,
      eventSourceArn: this.queues.queue.queueArn,
      batchSize,
      maxBatchingWindow: windowSeconds > 0 ? props.maxBatchingWindow : undefined,
      maxConcurrency: props.maxConcurrency,
      reportBatchItemFailures: true,
    });
    markResource(this.eventSourceMapping, {
      kind: 'event-source-mapping',
      name,
      sourceQueue: this.queues.queueName,
    });

    this.grantQueues();
  }

  private grantQueues(): void {
    const { queue, dlq } = this.queues;
    // Consume, and lengthen a failed record's visibility timeout (the retry ladder).
    queue.grantConsumeMessages(this.role);
    // Poison messages are moved to the DLQ by the handler itself, with a reason attribute.
    dlq.grantSendMessages(this.role);
  }
}

function checkVisibility(name: string, visibility: Duration, minSeconds: number): void {
  const seconds = visibility.toSeconds();
  if (seconds < minSeconds) {
    fail(
      name,
      `queue visibility timeout ${seconds} s is below ${VISIBILITY_TIMEOUT_FACTOR}x the function timeout (${minSeconds} s)`,
    );
  }
}
