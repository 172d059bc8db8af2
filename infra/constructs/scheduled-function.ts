// A function run by an EventBridge Scheduler schedule (the reconciliation sweep, the source
// sync). Scheduler invokes Lambda asynchronously, so failures have two paths, both ending in
// the schedule's DLQ: the invoke itself failing (Scheduler retries, then dead-letters) and the
// function failing (no Lambda async retries, the failed event goes to the on-failure
// destination). Operators pause/resume the schedule with Scheduler UpdateSchedule. An alarm
// fires when no run succeeded (the function's success metric) for a few intervals.
import { Aws, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { markResource, pascal, physicalName } from '../naming.ts';
import { createLambdaFunction, integerIn, metricsNamespace } from './lambda-function.ts';

/** Scheduler retries of a failed invoke (throttling, service errors); the next run follows soon. */
export const SCHEDULE_RETRY_ATTEMPTS = 2;
/** The missed-runs alarm fires when this many intervals in a row had no successful run. */
export const MISSED_RUNS_ALARM_INTERVALS = 3;

export interface ScheduledFunctionProps {
  readonly stage: string;
  /** Short function name; also the schedule's name and the metrics' `service`. */
  readonly functionName: string;
  readonly table: dynamodb.ITable;
  readonly tableIndexNames: readonly string[];
  /** @default the whole table is writable */
  readonly writablePartitions?: readonly string[];
  readonly ownEnvironment: Readonly<Record<string, string>>;
  readonly deadLetterQueue: sqs.IQueue;
  readonly rateMinutes: number;
  readonly timeout: Duration;
  readonly entry?: string;
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
  /** What the function does, for descriptions ("reconciliation sweep"). */
  readonly purpose: string;
  readonly errorsMeaning: string;
  /** Metric the handler emits once per successful run (Powertools EMF). */
  readonly successMetric: string;
  readonly missedDescription: string;
  /** Construct id of the missed-runs alarm. @default 'MissedRunsAlarm' */
  readonly missedAlarmId?: string;
  readonly errorPrefix: string;
}

export interface ScheduledFunctionParts {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly schedule: scheduler.Schedule;
  readonly scheduleRole: iam.Role;
  readonly missedRunsAlarm: cloudwatch.Alarm;
}

/** Creates the function, its schedule and alarms as children of `scope`, with fixed ids. */
export function createScheduledFunction(
  scope: Construct,
  props: ScheduledFunctionProps,
): ScheduledFunctionParts {
  const name = props.functionName;
  const rateMinutes = props.rateMinutes;
  // Event age must stay below the interval and Scheduler's minimum is 60 s: 2 minutes at least.
  integerIn(props.errorPrefix, 'rateMinutes', rateMinutes, 2, 1440);
  const interval = Duration.minutes(rateMinutes);
  // A run that could not start within the interval is dropped: the next one is due anyway.
  const maxEventAge = Duration.seconds(Math.min(interval.toSeconds() - 60, 6 * 3600));

  const parts = createLambdaFunction(scope, {
    stage: props.stage,
    functionName: name,
    entry: props.entry,
    timeout: props.timeout,
    memorySize: 512,
    table: props.table,
    tableIndexNames: props.tableIndexNames,
    ...(props.writablePartitions ? { writablePartitions: props.writablePartitions } : {}),
    ownEnvironment: props.ownEnvironment,
    description: `${physicalName(props.stage, name)} (${props.purpose}, run by EventBridge Scheduler)`,
    errorsMeaning: props.errorsMeaning,
    removalPolicy: props.removalPolicy,
    alarmTopic: props.alarmTopic,
    // The schedule retries; Lambda's own async retries would only double the runs.
    async: {
      retryAttempts: 0,
      maxEventAge,
      onFailure: new destinations.SqsDestination(props.deadLetterQueue),
    },
    errorPrefix: props.errorPrefix,
  });
  markResource(parts.function, { kind: 'function', name });

  // Own role (instead of the target's stack-level default) so it lives with the schedule.
  const scheduleRole = new iam.Role(scope, 'ScheduleRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
    description: `EventBridge Scheduler: invoke ${physicalName(props.stage, name)}, dead-letter to its DLQ`,
  });
  const schedule = new scheduler.Schedule(scope, 'Schedule', {
    scheduleName: physicalName(props.stage, name),
    description: `shard-control ${props.stage}: ${props.purpose} every ${rateMinutes} minutes`,
    schedule: scheduler.ScheduleExpression.rate(interval),
    target: new targets.LambdaInvoke(parts.function, {
      role: scheduleRole,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
      maxEventAge,
    }),
  });
  markResource(schedule, { kind: 'schedule', name });
  Validations.of(scheduleRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<Function${pascal(name)}.Arn>:*]`,
    reason: `lambda:InvokeFunction on the ${props.purpose} function and its versions/aliases (grantInvoke); nothing else.`,
  });

  // Missing data breaches: no run at all (schedule paused by accident, function broken
  // before it emits) is exactly what this alarm is for.
  const missedRunsAlarm = new cloudwatch.Alarm(scope, props.missedAlarmId ?? 'MissedRunsAlarm', {
    alarmName: `${physicalName(props.stage, name)}-missed`,
    alarmDescription: props.missedDescription,
    metric: new cloudwatch.Metric({
      namespace: metricsNamespace(props.stage),
      metricName: props.successMetric,
      // Powertools Metrics adds the `service` dimension (POWERTOOLS_SERVICE_NAME) by default.
      dimensionsMap: { service: name },
      statistic: cloudwatch.Stats.SUM,
      period: interval,
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: MISSED_RUNS_ALARM_INTERVALS,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  if (props.alarmTopic) missedRunsAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  return { ...parts, schedule, scheduleRole, missedRunsAlarm };
}
