import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../../shared/contracts/names.ts';
import { markResource, physicalName } from '../naming.ts';
import {
  createLambdaFunction,
  integerIn,
  metricsNamespace,
  validateFunctionProps,
} from './lambda-function.ts';
import type { QueueWithDlq } from './queue-with-dlq.ts';

export { metricsNamespace } from './lambda-function.ts';

/** AWS guidance for SQS event sources: visibility timeout >= 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * The retry alarm fires once a record fails on this receive: it failed on every one before,
 * through the ladder's ceilings 1, 2, 4, 8, 16, 30 base delays, a mean of 30.5 base delays
 * (~15 min at 30 s), 1/24 of the 720 the ladder lasts. Counting receives instead of age makes
 * it independent of the base, and SQS's age-of-oldest-message metric cannot do it: it leaves
 * out messages received three times or more.
 */
export const RETRY_ALARM_RECEIVE_COUNT = 7;

export interface SqsConsumerProps {
  readonly stage: string;
  /** Short function name, e.g. `shard-creation`; also the Powertools service name. */
  readonly functionName: string;
  /** The queue pair to consume (its visibility timeout must be 6x the function timeout). */
  readonly queue: QueueWithDlq;
  readonly table: dynamodb.ITable;
  /** GSIs the function queries (grants are per index, no wildcard). @default none */
  readonly tableIndexNames?: readonly string[];
  /** @default `functions/<functionName>/handler.ts` under the repository root */
  readonly entry?: string;
  /** @default 30 seconds */
  readonly timeout?: Duration;
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
  /** For the log group. @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
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
  /** A record keeps failing transiently (a dependency is down): long before the DLQ. */
  readonly retryAlarm: cloudwatch.Alarm;

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

    this.queues = props.queue;
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

    const physical = physicalName(props.stage, name);
    this.retryAlarm = new cloudwatch.Alarm(this, 'RetryAlarm', {
      alarmName: `${physical}-retrying`,
      alarmDescription: `${physical}: a record failed transiently ${RETRY_ALARM_RECEIVE_COUNT} receives in a row (a dependency such as Citrus or DynamoDB is failing). It stays on the retry ladder for at least 720 x RETRY_BASE_SECONDS before the DLQ: fix the dependency, nothing to replay.`,
      metric: new cloudwatch.Metric({
        namespace: metricsNamespace(props.stage),
        metricName: 'RetriedReceiveCount',
        dimensionsMap: { service: name },
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: RETRY_ALARM_RECEIVE_COUNT,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.retryAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
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
