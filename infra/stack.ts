import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import {
  DEFAULT_RETRY_BASE_SECONDS,
  DLQ_RETENTION_DAYS,
  ENV,
  MAX_RECEIVE_COUNT,
  PARAMETERS,
  QUEUES,
  type QueueName,
  SCHEDULE_DLQ,
  ssmPrefix,
  tableName,
} from '../shared/contracts/names.ts';
import { retryCeilingFactor } from '../shared/domain/retry.ts';
import { INDEXES, TABLE_KEY, TTL_ATTRIBUTE } from '../shared/store/schema.ts';
import { OperationsDashboard } from './constructs/dashboard.ts';
import { dlqDepthAlarm, QueueWithDlq } from './constructs/queue-with-dlq.ts';
import { ReconcileSchedule, SWEEP_FUNCTION } from './constructs/reconcile-schedule.ts';
import { SOURCE_SYNC_FUNCTION, SourceSyncSchedule } from './constructs/source-sync-schedule.ts';
import { SqsConsumer, VISIBILITY_TIMEOUT_FACTOR } from './constructs/sqs-consumer.ts';
import { CONSUMERS, type ConsumerDefinition, handlerEntry } from './functions.ts';
import { assertStage, markResource, pascal, physicalName } from './naming.ts';

/** Placeholder Citrus URL when context `citrusUrl` is not given: deploys, but fails fast at runtime. */
export const DEFAULT_CITRUS_URL = 'https://citrus.invalid';
/** Stages whose data is disposable: no deletion protection, resources destroyed with the stack. */
export const EPHEMERAL_STAGES: readonly string[] = ['local', 'dev'];
const DEFAULT_VISIBILITY_SECONDS = 30 * VISIBILITY_TIMEOUT_FACTOR;
/** SQS default message retention of the source queues (4 days). */
const SOURCE_RETENTION_SECONDS = 4 * 24 * 3600;

/**
 * Checks the retry base: positive, and small enough that even a ladder drawing every delay at
 * its ceiling reaches the DLQ before the source queue's retention would silently drop the
 * message (2041 base delays at MAX_RECEIVE_COUNT 72, so at most ~169 s).
 */
export function checkRetryBase(seconds: number): number {
  let longest = 0;
  for (let n = 1; n <= MAX_RECEIVE_COUNT; n++) longest += retryCeilingFactor(n) * seconds;
  if (!(Number.isFinite(seconds) && seconds > 0) || longest >= SOURCE_RETENTION_SECONDS) {
    throw new Error(
      `retryBaseSeconds must be positive and keep the longest retry ladder (${MAX_RECEIVE_COUNT} receives) within the ${SOURCE_RETENTION_SECONDS} s queue retention, got ${seconds}`,
    );
  }
  return seconds;
}

export interface ShardControlStackProps extends StackProps {
  readonly stage: string;
  /** Value of `/shard-control/{stage}/citrus/url`. @default DEFAULT_CITRUS_URL */
  readonly citrusUrl?: string;
  /** Subscribes this address to an alarm topic; no topic without it. */
  readonly alarmEmail?: string;
  /** @default CONSUMERS */
  readonly consumers?: readonly ConsumerDefinition[];
  /** Reconciliation sweep interval (context `reconcileRateMinutes`). @default 5 */
  readonly reconcileRateMinutes?: number;
  /** `RETRY_BASE_SECONDS` of every function (context `retryBaseSeconds`). @default 30 */
  readonly retryBaseSeconds?: number;
  /** Source-sync interval (context `sourceSyncRateMinutes`). @default 5 */
  readonly sourceSyncRateMinutes?: number;
  /**
   * Value of `/shard-control/{stage}/source/url` (context `sourceUrl`). Without it the
   * parameter is not created and source reconciliation stays off (SSM cannot hold an empty
   * String).
   */
  readonly sourceUrl?: string;
}

export class ShardControlStack extends Stack {
  readonly stage: string;
  readonly table: dynamodb.Table;
  readonly queues: Readonly<Record<QueueName, QueueWithDlq>>;
  readonly scheduleDlq: sqs.Queue;
  /** Keyed by short function name; only functions whose handler exists. */
  readonly consumers: ReadonlyMap<string, SqsConsumer>;
  readonly producerPolicy: iam.ManagedPolicy;
  readonly alarmTopic?: sns.Topic;
  readonly reconcile: ReconcileSchedule;
  readonly sourceSync: SourceSyncSchedule;
  /** Every alarm of the stack (the dashboard's alarm status widget shows them all). */
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: ShardControlStackProps) {
    super(scope, id, props);
    assertStage(props.stage);
    const stage = props.stage;
    this.stage = stage;
    const ephemeral = EPHEMERAL_STAGES.includes(stage);
    const removalPolicy = ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const consumers = props.consumers ?? CONSUMERS;
    const retryBaseSeconds = checkRetryBase(props.retryBaseSeconds ?? DEFAULT_RETRY_BASE_SECONDS);
    Tags.of(this).add('project', 'shard-control');
    Tags.of(this).add('stage', stage);

    if (props.alarmEmail !== undefined) {
      if (!/^[^@\s]+@[^@\s]+$/.test(props.alarmEmail)) {
        throw new Error(`alarmEmail is not an e-mail address: '${props.alarmEmail}'`);
      }
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        topicName: physicalName(stage, 'alarms'),
        enforceSSL: true,
      });
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    this.table = new dynamodb.Table(this, 'Table', {
      tableName: tableName(stage),
      partitionKey: { name: TABLE_KEY.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEY.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: !ephemeral,
      removalPolicy,
    });
    for (const index of Object.values(INDEXES)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        // Sparse and small: projecting everything saves the sweep a GetItem per hit. An index
        // over the whole live fleet projects only what its reader needs.
        ...('projection' in index
          ? {
              projectionType: dynamodb.ProjectionType.INCLUDE,
              nonKeyAttributes: [...index.projection],
            }
          : { projectionType: dynamodb.ProjectionType.ALL }),
      });
    }
    markResource(this.table, { kind: 'table', name: tableName(stage) });

    const definitionFor = (queue: QueueName) => consumers.find((c) => c.queue === queue);
    const queues = {} as Record<QueueName, QueueWithDlq>;
    for (const queue of QUEUES) {
      const definition = definitionFor(queue);
      queues[queue] = new QueueWithDlq(this, pascal(queue), {
        stage,
        queueName: queue,
        // Sized for the consumer now, so attaching its function later changes nothing here.
        visibilityTimeout: Duration.seconds(
          definition
            ? definition.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR
            : DEFAULT_VISIBILITY_SECONDS,
        ),
        alarmTopic: this.alarmTopic,
      });
    }
    this.queues = queues;

    this.scheduleDlq = new sqs.Queue(this, 'ReconcileScheduleDlq', {
      queueName: physicalName(stage, SCHEDULE_DLQ),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
    });
    markResource(this.scheduleDlq, { kind: 'dlq', name: SCHEDULE_DLQ });
    Validations.of(this.scheduleDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a DLQ: the EventBridge Scheduler target dead-letter config points at it, which cdk-nag cannot see.',
    });
    const scheduleDlqAlarm = dlqDepthAlarm(
      this,
      'ReconcileScheduleDlqDepthAlarm',
      this.scheduleDlq,
      physicalName(stage, SCHEDULE_DLQ),
      this.alarmTopic,
    );

    const built = new Map<string, SqsConsumer>();
    for (const definition of consumers) {
      const consumer = new SqsConsumer(this, `${pascal(definition.functionName)}Consumer`, {
        stage,
        functionName: definition.functionName,
        entry: handlerEntry(definition.functionName),
        queue: queues[definition.queue],
        table: this.table,
        tableIndexNames: (definition.tableIndexes ?? []).map((index) => INDEXES[index].name),
        timeout: Duration.seconds(definition.timeoutSeconds),
        memorySize: definition.memorySize,
        batchSize: definition.batchSize,
        maxBatchingWindow:
          definition.maxBatchingWindowSeconds === undefined
            ? undefined
            : Duration.seconds(definition.maxBatchingWindowSeconds),
        maxConcurrency: definition.maxConcurrency,
        removalPolicy,
        alarmTopic: this.alarmTopic,
      });
      built.set(definition.functionName, consumer);
    }
    this.consumers = built;

    this.reconcile = new ReconcileSchedule(this, 'Reconcile', {
      stage,
      table: this.table,
      tableIndexNames: [INDEXES.work.name],
      convergenceQueue: queues.convergence.queue,
      deadLetterQueue: this.scheduleDlq,
      rateMinutes: props.reconcileRateMinutes,
      removalPolicy,
      alarmTopic: this.alarmTopic,
    });

    this.sourceSync = new SourceSyncSchedule(this, 'SourceSync', {
      stage,
      table: this.table,
      tableIndexNames: [INDEXES.live.name],
      shardCreationQueue: queues['shard-creation'].queue,
      workspaceLifecycleQueue: queues['workspace-lifecycle'].queue,
      // One DLQ for every schedule: failed sweeps and failed source syncs alike.
      deadLetterQueue: this.scheduleDlq,
      rateMinutes: props.sourceSyncRateMinutes,
      removalPolicy,
      alarmTopic: this.alarmTopic,
    });

    // Every function, so that any that retries (today the SQS consumers) follows the same ladder.
    const functions = [...built.values()].map((consumer) => consumer.function);
    functions.push(this.reconcile.function, this.sourceSync.function);
    for (const fn of functions) fn.addEnvironment(ENV.retryBaseSeconds, String(retryBaseSeconds));

    this.alarms = [
      ...QUEUES.flatMap((queue) => [queues[queue].dlqDepthAlarm, queues[queue].oldestMessageAlarm]),
      scheduleDlqAlarm,
      ...[...built.values()].flatMap((consumer) => [consumer.errorsAlarm, consumer.retryAlarm]),
      this.reconcile.errorsAlarm,
      this.reconcile.missedSweepsAlarm,
      this.sourceSync.errorsAlarm,
      this.sourceSync.missedSyncsAlarm,
      this.sourceSync.deletionsHeldAlarm,
    ];
    const convergenceConsumer = consumers.find((c) => c.queue === 'convergence')?.functionName;
    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      stage,
      queues: QUEUES.map((queue) => queues[queue]),
      deadLetterQueues: [{ name: SCHEDULE_DLQ, queue: this.scheduleDlq }],
      consumers: [...built].map(([service, consumer]) => ({
        service,
        function: consumer.function,
      })),
      convergenceService:
        convergenceConsumer && built.has(convergenceConsumer) ? convergenceConsumer : undefined,
      sweep: { service: SWEEP_FUNCTION, function: this.reconcile.function },
      sourceSync: { service: SOURCE_SYNC_FUNCTION, function: this.sourceSync.function },
      alarms: this.alarms,
    });

    const parameterPrefix = ssmPrefix(stage);
    for (const [key, parameter] of Object.entries(PARAMETERS)) {
      // SecureStrings are created by the operator: CloudFormation cannot create them.
      if (parameter.secure) continue;
      const value =
        key === 'citrusUrl'
          ? (props.citrusUrl ?? DEFAULT_CITRUS_URL)
          : key === 'sourceUrl'
            ? props.sourceUrl
            : 'default' in parameter
              ? parameter.default
              : undefined;
      // An optional parameter without a value stays absent (for source/url: sync off).
      if (value === undefined && 'optional' in parameter) continue;
      if (value === undefined) throw new Error(`parameter ${parameter.name} has no value`);
      new ssm.StringParameter(this, `Parameter${pascal(parameter.name)}`, {
        parameterName: `${parameterPrefix}/${parameter.name}`,
        stringValue: value,
        description: `shard-control ${stage}: ${parameter.name}`,
      });
    }

    this.producerPolicy = new iam.ManagedPolicy(this, 'ProducerPolicy', {
      managedPolicyName: physicalName(stage, 'producer'),
      description: `Send shard-control ${stage} messages (management server, operator tools).`,
      statements: [
        new iam.PolicyStatement({
          sid: 'SendToSourceQueues',
          actions: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
          resources: QUEUES.map((queue) => queues[queue].queue.queueArn),
        }),
      ],
    });

    for (const queue of QUEUES) {
      const { queue: source, dlq } = queues[queue];
      const name = pascal(queue);
      new CfnOutput(this, `${name}QueueUrl`, { value: source.queueUrl });
      new CfnOutput(this, `${name}QueueArn`, { value: source.queueArn });
      new CfnOutput(this, `${name}DlqUrl`, { value: dlq.queueUrl });
      new CfnOutput(this, `${name}DlqArn`, { value: dlq.queueArn });
    }
    new CfnOutput(this, 'ReconcileScheduleDlqUrl', { value: this.scheduleDlq.queueUrl });
    new CfnOutput(this, 'ReconcileScheduleDlqArn', { value: this.scheduleDlq.queueArn });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'TableArn', { value: this.table.tableArn });
    new CfnOutput(this, 'ProducerPolicyArn', { value: this.producerPolicy.managedPolicyArn });
    for (const [name, consumer] of built) {
      new CfnOutput(this, `${pascal(name)}FunctionName`, { value: consumer.function.functionName });
    }
    // Operators pause/resume reconciliation with Scheduler UpdateSchedule on this name.
    new CfnOutput(this, 'ReconcileScheduleName', { value: this.reconcile.schedule.scheduleName });
    new CfnOutput(this, 'ReconcileSweepFunctionName', {
      value: this.reconcile.function.functionName,
    });
    // Operators pause/resume source reconciliation with Scheduler UpdateSchedule on this name.
    new CfnOutput(this, 'SourceSyncScheduleName', {
      value: this.sourceSync.schedule.scheduleName,
    });
    new CfnOutput(this, 'SourceSyncFunctionName', { value: this.sourceSync.function.functionName });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    if (this.alarmTopic) new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }
}
