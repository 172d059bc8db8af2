// What every shard-control function shares, whatever invokes it: the bundled NodejsFunction,
// its own log group and role, state table / stage parameter / SecureString grants, the
// cdk-nag acknowledgements those grants need, and an errors alarm. Children are created in
// the caller's scope with fixed ids (`LogGroup`, `Role`, `Function`, `ErrorsAlarm`), so the
// logical IDs are those of the construct that owns the function.
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
import type { Construct } from 'constructs';
import { ENV, ssmPrefix } from '../../shared/contracts/names.ts';
import { LAMBDA_BUNDLE } from '../bundling.ts';
import { physicalName } from '../naming.ts';
import { PROJECT_ROOT } from '../paths.ts';

/**
 * CloudWatch namespace of the metrics the functions emit (Powertools EMF). One per stage, so
 * two stages in one account and region never mix their graphs and alarms.
 */
export const metricsNamespace = (stage: string) => `ShardControl/${stage}`;
export const FUNCTION_NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;

export interface LambdaFunctionProps {
  readonly stage: string;
  /** Short function name, e.g. `shard-creation`; also the Powertools service name. */
  readonly functionName: string;
  /** @default `functions/<functionName>/handler.ts` under the repository root */
  readonly entry?: string;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly table: dynamodb.ITable;
  /** GSIs the function queries (grants are per index, no wildcard). @default none */
  readonly tableIndexNames?: readonly string[];
  /**
   * Partitions (pk values) the function may write; it reads the whole table. @default the
   * whole table is readable and writable
   */
  readonly writablePartitions?: readonly string[];
  /** Environment the owning construct sets; together with the base ones, not overridable. */
  readonly ownEnvironment?: Readonly<Record<string, string>>;
  /** Extra environment variables from the caller; may not override the reserved ones. */
  readonly environment?: Readonly<Record<string, string>>;
  /** IAM role description. */
  readonly description: string;
  /** What the errors alarm means for this function (its description). */
  readonly errorsMeaning: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** For the log group. @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
  /** Asynchronous invocations (Scheduler, EventBridge) only. */
  readonly async?: {
    readonly retryAttempts: number;
    readonly maxEventAge?: Duration;
    readonly onFailure?: lambda.IDestination;
  };
  /** Prefix of validation error messages, e.g. `SqsConsumer shard-creation`. */
  readonly errorPrefix: string;
}

export interface LambdaFunctionParts {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly errorsAlarm: cloudwatch.Alarm;
}

export const integerIn = (
  prefix: string,
  field: string,
  value: number,
  min: number,
  max: number,
) => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prefix}: ${field} must be an integer in ${min}..${max}, got ${value}`);
  }
};

/** Checks the props every function shares; throws with `errorPrefix`. */
export function validateFunctionProps(
  props: Pick<
    LambdaFunctionProps,
    'functionName' | 'timeout' | 'memorySize' | 'entry' | 'errorPrefix'
  >,
): string {
  const prefix = props.errorPrefix;
  if (!FUNCTION_NAME_PATTERN.test(props.functionName)) {
    throw new Error(`${prefix}: functionName must match ${FUNCTION_NAME_PATTERN}`);
  }
  integerIn(prefix, 'timeout (seconds)', props.timeout.toSeconds(), 1, 900);
  integerIn(prefix, 'memorySize', props.memorySize ?? 256, 128, 10_240);
  const entry = props.entry ?? join(PROJECT_ROOT, 'functions', props.functionName, 'handler.ts');
  if (!existsSync(entry)) throw new Error(`${prefix}: entry ${entry} does not exist`);
  return entry;
}

export function createLambdaFunction(
  scope: Construct,
  props: LambdaFunctionProps,
): LambdaFunctionParts {
  const name = props.functionName;
  const entry = validateFunctionProps(props);
  const reserved: Record<string, string> = {
    [ENV.stage]: props.stage,
    [ENV.tableName]: props.table.tableName,
    ...props.ownEnvironment,
    POWERTOOLS_SERVICE_NAME: name,
    POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(props.stage),
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  for (const key of Object.keys(props.environment ?? {})) {
    if (key in reserved)
      throw new Error(`${props.errorPrefix}: environment may not override ${key}`);
  }

  const physical = physicalName(props.stage, name);
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    logGroupName: `/aws/lambda/${physical}`,
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  // Own role instead of AWSLambdaBasicExecutionRole: logs are granted on this log group only.
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.description,
  });
  logGroup.grantWrite(role);

  const fn = new nodejs.NodejsFunction(scope, 'Function', {
    functionName: physical,
    entry,
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? 256,
    timeout: props.timeout,
    tracing: lambda.Tracing.ACTIVE,
    role,
    logGroup,
    environment: { ...props.environment, ...reserved },
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
    ...(props.async
      ? {
          retryAttempts: props.async.retryAttempts,
          maxEventAge: props.async.maxEventAge,
          onFailure: props.async.onFailure,
        }
      : {}),
  });

  grantStateAccess(role, props);
  acknowledgeFindings(role, fn, props.stage);

  const errorsAlarm = new cloudwatch.Alarm(scope, 'ErrorsAlarm', {
    alarmName: `${physical}-errors`,
    alarmDescription: `${physical} ${props.errorsMeaning}`,
    metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (props.alarmTopic) errorsAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  return { function: fn, role, logGroup, errorsAlarm };
}

/** State table (+ named GSIs), this stage's parameters, and Decrypt of its SecureStrings. */
function grantStateAccess(
  role: iam.Role,
  props: Pick<LambdaFunctionProps, 'table' | 'tableIndexNames' | 'stage' | 'writablePartitions'>,
): void {
  const tableArn = props.table.tableArn;
  if (props.writablePartitions) grantOwnPartitions(role, tableArn, props);
  else
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTable',
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          // PartiQL UPDATEs (BatchExecuteStatement): batched conditional updates.
          'dynamodb:PartiQLUpdate',
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
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StageParameters',
      actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
      resources: [parameterPath, `${parameterPath}/*`],
    }),
  );
  // SecureStrings use the aws/ssm key; Decrypt only through SSM and only for this stage's path.
  role.addToPrincipalPolicy(
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

/** Reads anywhere in the table (and the named GSIs), writes only the given partitions. */
function grantOwnPartitions(
  role: iam.Role,
  tableArn: string,
  props: Pick<LambdaFunctionProps, 'tableIndexNames' | 'writablePartitions'>,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StateTableRead',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:DescribeTable',
      ],
      resources: [
        tableArn,
        ...(props.tableIndexNames ?? []).map((index) => `${tableArn}/index/${index}`),
      ],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StateTableOwnPartitions',
      actions: [
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:PartiQLUpdate',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
      ],
      resources: [tableArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'dynamodb:LeadingKeys': [...(props.writablePartitions ?? [])],
        },
      },
    }),
  );
}

function acknowledgeFindings(role: iam.Role, fn: lambda.Function, stage: string): void {
  const parameterArn = `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${ssmPrefix(stage)}/*`;
  Validations.of(role).acknowledge(
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
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'nodejs22.x chosen deliberately: a supported runtime whose behaviour matches the node20-targeted bundle run by the local stack; move to 24 once verified.',
  });
}
