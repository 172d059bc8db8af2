import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV, type QueueName, ssmPrefix } from '../../shared/contracts/names.ts';
import { LAMBDA_BUNDLE } from '../bundling.ts';
import { markResource, physicalName } from '../naming.ts';
import { PROJECT_ROOT } from '../paths.ts';
import { QueueWithDlq } from './queue-with-dlq.ts';

/** AWS guidance for SQS event sources: visibility timeout >= 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const POWERTOOLS_METRICS_NAMESPACE = 'ShardControl';

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

const FUNCTION_NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;

const fail = (name: string, message: string): never => {
  throw new Error(`SqsConsumer ${name}: ${message}`);
};

const integerIn = (name: string, field: string, value: number, min: number, max: number) => {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(name, `${field} must be an integer in ${min}..${max}, got ${value}`);
  }
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
    if (!FUNCTION_NAME_PATTERN.test(name)) {
      fail(name, `functionName must match ${FUNCTION_NAME_PATTERN}`);
    }
    const timeout = props.timeout ?? Duration.seconds(30);
    const timeoutSeconds = timeout.toSeconds();
    integerIn(name, 'timeout (seconds)', timeoutSeconds, 1, 900);
    integerIn(name, 'memorySize', props.memorySize ?? 256, 128, 10_240);
    const batchSize = props.batchSize ?? 10;
    integerIn(name, 'batchSize', batchSize, 1, 10_000);
    const windowSeconds = props.maxBatchingWindow?.toSeconds() ?? 0;
    integerIn(name, 'maxBatchingWindow (seconds)', windowSeconds, 0, 300);
    if (batchSize > 10 && windowSeconds < 1) {
      fail(name, 'batchSize above 10 requires a maxBatchingWindow of at least 1 second');
    }
    if (props.maxConcurrency !== undefined) {
      integerIn(name, 'maxConcurrency', props.maxConcurrency, 2, 1000);
    }
    const minVisibility = timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;
    const entry = props.entry ?? join(PROJECT_ROOT, 'functions', name, 'handler.ts');
    if (!existsSync(entry)) fail(name, `entry ${entry} does not exist`);

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

    const tableName = props.table.tableName;
    const ownEnvironment: Record<string, string> = {
      [ENV.stage]: props.stage,
      [ENV.tableName]: tableName,
      [ENV.sourceQueueUrl]: this.queues.queue.queueUrl,
      [ENV.dlqUrl]: this.queues.dlq.queueUrl,
      POWERTOOLS_SERVICE_NAME: name,
      POWERTOOLS_METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const key of Object.keys(props.environment ?? {})) {
      if (key in ownEnvironment) fail(name, `environment may not override ${key}`);
    }

    const physical = physicalName(props.stage, name);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${physical}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Own role instead of AWSLambdaBasicExecutionRole: logs are granted on this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${physical} (SQS consumer of ${this.queues.queueName})`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: physical,
      entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...props.environment, ...ownEnvironment },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: LAMBDA_BUNDLE.target,
        mainFields: [...LAMBDA_BUNDLE.mainFields],
        minify: LAMBDA_BUNDLE.minify,
        sourceMap: LAMBDA_BUNDLE.sourcemap,
        banner: LAMBDA_BUNDLE.banner,
        esbuildArgs: Object.fromEntries(
          Object.entries(LAMBDA_BUNDLE.alias).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        // Bundled SDK loads faster than the runtime's copy and lets the bundle run locally.
        bundleAwsSDK: true,
        forceDockerBundling: false,
      },
    });
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

    this.grant(props);
    this.acknowledgeFindings(props.stage);

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmName: `${physical}-errors`,
      alarmDescription: `${physical} crashed or timed out (record failures are partial batch responses, not errors).`,
      metric: this.function.metricErrors({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.errorsAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  }

  private grant(props: SqsConsumerProps): void {
    const { queue, dlq } = this.queues;
    queue.grantConsumeMessages(this.role);
    // Handlers lengthen the visibility timeout per receive count and may re-enqueue.
    queue.grant(this.role, 'sqs:SendMessage', 'sqs:ChangeMessageVisibility');
    // Poison messages are moved to the DLQ by the handler itself, with a reason attribute.
    dlq.grantSendMessages(this.role);

    const tableArn = props.table.tableArn;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTable',
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DescribeTable',
        ],
        resources: [
          tableArn,
          ...(props.tableIndexNames ?? []).map((index) => `${tableArn}/index/${index}`),
        ],
      }),
    );

    const parameterPath = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${ssmPrefix(props.stage)}`;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StageParameters',
        actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        resources: [parameterPath, `${parameterPath}/*`],
      }),
    );
    // SecureStrings use the aws/ssm key; Decrypt only through SSM and only for this stage's path.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptStageSecureStrings',
        actions: ['kms:Decrypt'],
        resources: [`arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`],
        conditions: {
          StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': `${parameterPath}/*` },
        },
      }),
    );
  }

  private acknowledgeFindings(stage: string): void {
    const parameterArn = `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${ssmPrefix(stage)}/*`;
    Validations.of(this.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) have no resource-level permissions.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${parameterArn}]`,
        reason:
          "Read access to this stage's own parameter path only; handlers load it by path with caching.",
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
        reason:
          'The aws/ssm key id is not known at synth time; Decrypt is limited by kms:ViaService=ssm and the encryption context to this stage parameter path.',
      },
    );
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x chosen deliberately (STACK.md): supported runtime whose behaviour matches the node20-targeted bundle run by the local stack; move to 24 once verified.',
    });
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
