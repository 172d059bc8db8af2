// The reconciliation sweep's trigger: the `reconcile-sweep` function run by an EventBridge Scheduler schedule.
// Scheduler invokes Lambda asynchronously, so failures have two paths, both ending in the
// schedule's DLQ: the invoke itself failing (Scheduler retries, then dead-letters) and the
// function failing (no Lambda async retries, the failed event goes to the on-failure
// destination). Operators pause/resume the schedule with Scheduler UpdateSchedule.
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
import { Construct } from 'constructs';
import { ENV } from '../../shared/contracts/names.ts';
import { markResource, physicalName } from '../naming.ts';
import { createLambdaFunction, integerIn, metricsNamespace } from './lambda-function.ts';

export const SWEEP_FUNCTION = 'reconcile-sweep';
export const DEFAULT_RECONCILE_RATE_MINUTES = 5;
/** Scheduler retries of a failed invoke (throttling, service errors); the next sweep follows soon. */
export const SCHEDULE_RETRY_ATTEMPTS = 2;
/** The alarm fires when this many intervals in a row had no successful sweep. */
export const MISSED_SWEEPS_ALARM_INTERVALS = 3;
/** Metric the sweep handler emits once per sweep without errors (Powertools EMF). */
export const SWEEP_SUCCEEDED_METRIC = 'SweepSucceeded';

export interface ReconcileScheduleProps {
  readonly stage: string;
  readonly table: dynamodb.ITable;
  /** GSIs the sweep queries (the sparse `work` index). */
  readonly tableIndexNames: readonly string[];
  /** The `convergence` queue the sweep sends shard.converge jobs to. */
  readonly convergenceQueue: sqs.IQueue;
  /** `reconcile-schedule-dlq`: failed invokes and failed sweeps. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default DEFAULT_RECONCILE_RATE_MINUTES */
  readonly rateMinutes?: number;
  /** @default 120 seconds */
  readonly timeout?: Duration;
  /** @default `functions/reconcile-sweep/handler.ts` */
  readonly entry?: string;
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
}

export class ReconcileSchedule extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly schedule: scheduler.Schedule;
  readonly scheduleRole: iam.Role;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly missedSweepsAlarm: cloudwatch.Alarm;
  readonly rateMinutes: number;

  constructor(scope: Construct, id: string, props: ReconcileScheduleProps) {
    super(scope, id);
    const errorPrefix = `ReconcileSchedule ${props.stage}`;
    const rateMinutes = props.rateMinutes ?? DEFAULT_RECONCILE_RATE_MINUTES;
    // Event age must stay below the interval and Scheduler's minimum is 60 s: 2 minutes at least.
    integerIn(errorPrefix, 'rateMinutes', rateMinutes, 2, 1440);
    this.rateMinutes = rateMinutes;
    const interval = Duration.minutes(rateMinutes);
    // A sweep that could not start within the interval is dropped: the next one is due anyway.
    const maxEventAge = Duration.seconds(Math.min(interval.toSeconds() - 60, 6 * 3600));

    const parts = createLambdaFunction(this, {
      stage: props.stage,
      functionName: SWEEP_FUNCTION,
      entry: props.entry,
      timeout: props.timeout ?? Duration.seconds(120),
      memorySize: 512,
      table: props.table,
      tableIndexNames: props.tableIndexNames,
      ownEnvironment: { [ENV.convergenceQueueUrl]: props.convergenceQueue.queueUrl },
      description: `${physicalName(props.stage, SWEEP_FUNCTION)} (reconciliation sweep, run by EventBridge Scheduler)`,
      errorsMeaning: 'failed: a sweep crashed or timed out (the event is in the schedule DLQ).',
      removalPolicy: props.removalPolicy,
      alarmTopic: props.alarmTopic,
      // The schedule retries; Lambda's own async retries would only double the sweeps.
      async: {
        retryAttempts: 0,
        maxEventAge,
        onFailure: new destinations.SqsDestination(props.deadLetterQueue),
      },
      errorPrefix,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.errorsAlarm = parts.errorsAlarm;
    markResource(this.function, { kind: 'function', name: SWEEP_FUNCTION });
    props.convergenceQueue.grantSendMessages(this.role);

    // Own role (instead of the target's stack-level default) so it lives with the schedule.
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `EventBridge Scheduler: invoke ${physicalName(props.stage, SWEEP_FUNCTION)}, dead-letter to its DLQ`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      scheduleName: physicalName(props.stage, SWEEP_FUNCTION),
      description: `shard-control ${props.stage}: reconciliation sweep every ${rateMinutes} minutes`,
      schedule: scheduler.ScheduleExpression.rate(interval),
      target: new targets.LambdaInvoke(this.function, {
        role: this.scheduleRole,
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge,
      }),
    });
    markResource(this.schedule, { kind: 'schedule', name: SWEEP_FUNCTION });
    Validations.of(this.scheduleRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::<FunctionReconcileSweep.Arn>:*]',
      reason:
        'lambda:InvokeFunction on the sweep function and its versions/aliases (grantInvoke); nothing else.',
    });

    // Missing data breaches: no sweep at all (schedule paused by accident, function broken
    // before it emits) is exactly what this alarm is for.
    this.missedSweepsAlarm = new cloudwatch.Alarm(this, 'MissedSweepsAlarm', {
      alarmName: `${physicalName(props.stage, SWEEP_FUNCTION)}-missed`,
      alarmDescription: `No successful reconciliation sweep in ${MISSED_SWEEPS_ALARM_INTERVALS} intervals of ${rateMinutes} minutes (paused schedule, failing sweeps, or Citrus/DynamoDB errors).`,
      metric: new cloudwatch.Metric({
        namespace: metricsNamespace(props.stage),
        metricName: SWEEP_SUCCEEDED_METRIC,
        // Powertools Metrics adds the `service` dimension (POWERTOOLS_SERVICE_NAME) by default.
        dimensionsMap: { service: SWEEP_FUNCTION },
        statistic: cloudwatch.Stats.SUM,
        period: interval,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: MISSED_SWEEPS_ALARM_INTERVALS,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    if (props.alarmTopic) {
      this.missedSweepsAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    }
  }
}
