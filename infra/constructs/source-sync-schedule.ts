// Source reconciliation's trigger: the `source-sync` function on its own EventBridge Scheduler
// schedule (see scheduled-function.ts for the failure paths), with an alarm when the safety cap
// holds deletions back. The function reads the whole state table but writes only its SOURCE
// records, and sends only to the two queues the management server feeds.
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../shared/contracts/names.ts';
import { sourcePartition } from '../../shared/store/schema.ts';
import { physicalName } from '../naming.ts';
import { metricsNamespace } from './lambda-function.ts';
import { createScheduledFunction, MISSED_RUNS_ALARM_INTERVALS } from './scheduled-function.ts';

export const SOURCE_SYNC_FUNCTION = 'source-sync';
export const DEFAULT_SOURCE_SYNC_RATE_MINUTES = 5;
/** Metrics the source-sync handler emits (Powertools EMF, dimension service = source-sync). */
export const SOURCE_SYNC_SUCCEEDED_METRIC = 'SourceSyncSucceeded';
export const SOURCE_DELETIONS_HELD_METRIC = 'SourceDeletionsHeld';

export interface SourceSyncScheduleProps {
  readonly stage: string;
  readonly table: dynamodb.ITable;
  /** GSIs the run queries (the sparse `live` index). */
  readonly tableIndexNames: readonly string[];
  /** Where repairs go: the queues of the management server's own events. */
  readonly shardCreationQueue: sqs.IQueue;
  readonly workspaceLifecycleQueue: sqs.IQueue;
  /** Failed invokes and failed runs. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default DEFAULT_SOURCE_SYNC_RATE_MINUTES */
  readonly rateMinutes?: number;
  /** Full snapshots of a large fleet take a while: @default 300 seconds */
  readonly timeout?: Duration;
  /** @default `functions/source-sync/handler.ts` */
  readonly entry?: string;
  readonly removalPolicy?: RemovalPolicy;
  readonly alarmTopic?: sns.ITopic;
}

export class SourceSyncSchedule extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly schedule: scheduler.Schedule;
  readonly scheduleRole: iam.Role;
  /** Runs that failed (listing failed, repairs not sent, misconfiguration). */
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly missedSyncsAlarm: cloudwatch.Alarm;
  readonly deletionsHeldAlarm: cloudwatch.Alarm;
  readonly rateMinutes: number;

  constructor(scope: Construct, id: string, props: SourceSyncScheduleProps) {
    super(scope, id);
    const rateMinutes = props.rateMinutes ?? DEFAULT_SOURCE_SYNC_RATE_MINUTES;
    this.rateMinutes = rateMinutes;
    const parts = createScheduledFunction(this, {
      stage: props.stage,
      functionName: SOURCE_SYNC_FUNCTION,
      entry: props.entry,
      timeout: props.timeout ?? Duration.seconds(300),
      table: props.table,
      tableIndexNames: props.tableIndexNames,
      writablePartitions: [sourcePartition.pk],
      ownEnvironment: {
        [ENV.shardCreationQueueUrl]: props.shardCreationQueue.queueUrl,
        [ENV.workspaceLifecycleQueueUrl]: props.workspaceLifecycleQueue.queueUrl,
      },
      deadLetterQueue: props.deadLetterQueue,
      rateMinutes,
      removalPolicy: props.removalPolicy,
      alarmTopic: props.alarmTopic,
      purpose: 'source reconciliation',
      errorsMeaning:
        'failed: a source sync could not list the management server, send its repairs, or read its configuration (see its log; the event is in the schedule DLQ).',
      successMetric: SOURCE_SYNC_SUCCEEDED_METRIC,
      missedDescription: `No successful source sync in ${MISSED_RUNS_ALARM_INTERVALS} intervals of ${rateMinutes} minutes (paused schedule, source/url unset, management server or token failing).`,
      errorPrefix: `SourceSyncSchedule ${props.stage}`,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.errorsAlarm = parts.errorsAlarm;
    this.schedule = parts.schedule;
    this.scheduleRole = parts.scheduleRole;
    this.missedSyncsAlarm = parts.missedRunsAlarm;
    props.shardCreationQueue.grantSendMessages(this.role);
    props.workspaceLifecycleQueue.grantSendMessages(this.role);

    // Every complete full snapshot reports how many deletions wait for the operator.
    this.deletionsHeldAlarm = new cloudwatch.Alarm(this, 'DeletionsHeldAlarm', {
      alarmName: `${physicalName(props.stage, SOURCE_SYNC_FUNCTION)}-deletions-held`,
      alarmDescription:
        'Source reconciliation held back deletions (more than source/max-deletes, or 10 % of live workspaces, absent from the listing). Check the management server, then `shardctl source held` and `shardctl source release-held`.',
      metric: new cloudwatch.Metric({
        namespace: metricsNamespace(props.stage),
        metricName: SOURCE_DELETIONS_HELD_METRIC,
        dimensionsMap: { service: SOURCE_SYNC_FUNCTION },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(rateMinutes),
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Between full snapshots there is no datapoint: keep the last state.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    if (props.alarmTopic) {
      this.deletionsHeldAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    }
  }
}
