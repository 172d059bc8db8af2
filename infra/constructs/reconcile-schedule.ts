// The reconciliation sweep's trigger: the `reconcile-sweep` function run by an EventBridge
// Scheduler schedule (see scheduled-function.ts for the failure paths and the alarms).
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../shared/contracts/names.ts';
import { createScheduledFunction, MISSED_RUNS_ALARM_INTERVALS } from './scheduled-function.ts';

export { SCHEDULE_RETRY_ATTEMPTS } from './scheduled-function.ts';

export const SWEEP_FUNCTION = 'reconcile-sweep';
export const DEFAULT_RECONCILE_RATE_MINUTES = 5;
/** The alarm fires when this many intervals in a row had no successful sweep. */
export const MISSED_SWEEPS_ALARM_INTERVALS = MISSED_RUNS_ALARM_INTERVALS;
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
    const rateMinutes = props.rateMinutes ?? DEFAULT_RECONCILE_RATE_MINUTES;
    this.rateMinutes = rateMinutes;
    const parts = createScheduledFunction(this, {
      stage: props.stage,
      functionName: SWEEP_FUNCTION,
      entry: props.entry,
      timeout: props.timeout ?? Duration.seconds(120),
      table: props.table,
      tableIndexNames: props.tableIndexNames,
      ownEnvironment: { [ENV.convergenceQueueUrl]: props.convergenceQueue.queueUrl },
      deadLetterQueue: props.deadLetterQueue,
      rateMinutes,
      removalPolicy: props.removalPolicy,
      alarmTopic: props.alarmTopic,
      purpose: 'reconciliation sweep',
      errorsMeaning: 'failed: a sweep crashed or timed out (the event is in the schedule DLQ).',
      successMetric: SWEEP_SUCCEEDED_METRIC,
      missedDescription: `No successful reconciliation sweep in ${MISSED_SWEEPS_ALARM_INTERVALS} intervals of ${rateMinutes} minutes (paused schedule, failing sweeps, or Citrus/DynamoDB errors).`,
      missedAlarmId: 'MissedSweepsAlarm',
      errorPrefix: `ReconcileSchedule ${props.stage}`,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.errorsAlarm = parts.errorsAlarm;
    this.schedule = parts.schedule;
    this.scheduleRole = parts.scheduleRole;
    this.missedSweepsAlarm = parts.missedRunsAlarm;
    props.convergenceQueue.grantSendMessages(this.role);
  }
}
