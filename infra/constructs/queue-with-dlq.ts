import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  DLQ_RETENTION_DAYS,
  dlqName,
  MAX_RECEIVE_COUNT,
  type QueueName,
} from '../../shared/contracts/names.ts';
import { markResource, physicalName } from '../naming.ts';

/** SQS caps the visibility timeout at 12 hours. */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/**
 * Default threshold of the "oldest message is getting old" alarm: messages waiting for a
 * consumer that is missing, throttled or crashing. It does not see records failing on the
 * retry ladder (SQS leaves messages received three times or more out of this metric): the
 * consumer's retry alarm does.
 */
export const DEFAULT_OLDEST_MESSAGE_AGE = Duration.minutes(15);

export interface QueueWithDlqProps {
  readonly stage: string;
  /** The queue's contract name (e.g. `shard-creation`), without the stage prefix. */
  readonly queueName: QueueName;
  /** Must be at least 6x the consumer's function timeout (AWS guidance for SQS event sources). */
  readonly visibilityTimeout: Duration;
  /** Alarm when the oldest message waits longer than this. @default 15 minutes */
  readonly oldestMessageAgeThreshold?: Duration;
  /** Where alarms notify, if anywhere. */
  readonly alarmTopic?: sns.ITopic;
  /** @default RemovalPolicy.DESTROY (queues hold transient work, replayable from the DLQ) */
  readonly removalPolicy?: RemovalPolicy;
}

/** Alarm on a DLQ's depth: any message there needs an operator. Shared with the schedule DLQ. */
export function dlqDepthAlarm(
  scope: Construct,
  id: string,
  dlq: sqs.IQueue,
  name: string,
  topic?: sns.ITopic,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmName: `${name}-depth`,
    alarmDescription: `Messages in ${name}: inspect with \`shardctl dlq peek\`, replay once fixed.`,
    metric: dlq.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (topic) alarm.addAlarmAction(new actions.SnsAction(topic));
  return alarm;
}

/** A contract queue and its DLQ, created even before a consumer exists so producers can deploy. */
export class QueueWithDlq extends Construct {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly queueName: QueueName;
  /** Kept so that a consumer attached later can check the 6x rule (the L2 does not expose it). */
  readonly visibilityTimeout: Duration;
  readonly dlqDepthAlarm: cloudwatch.Alarm;
  readonly oldestMessageAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QueueWithDlqProps) {
    super(scope, id);
    const visibility = props.visibilityTimeout.toSeconds();
    if (
      !Number.isInteger(visibility) ||
      visibility < 1 ||
      visibility > MAX_VISIBILITY_TIMEOUT_SECONDS
    ) {
      throw new Error(
        `QueueWithDlq ${props.queueName}: visibilityTimeout must be 1..${MAX_VISIBILITY_TIMEOUT_SECONDS} whole seconds, got ${visibility}`,
      );
    }
    const ageThreshold = (
      props.oldestMessageAgeThreshold ?? DEFAULT_OLDEST_MESSAGE_AGE
    ).toSeconds();
    if (ageThreshold < 60) {
      throw new Error(
        `QueueWithDlq ${props.queueName}: oldestMessageAgeThreshold must be at least 60 seconds (metric resolution), got ${ageThreshold}`,
      );
    }
    this.queueName = props.queueName;
    this.visibilityTimeout = props.visibilityTimeout;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const dlqContractName = dlqName(props.queueName);

    this.dlq = new sqs.Queue(this, 'Dlq', {
      queueName: physicalName(props.stage, dlqContractName),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
      removalPolicy,
    });
    markResource(this.dlq, { kind: 'dlq', name: dlqContractName, sourceQueue: props.queueName });

    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: physicalName(props.stage, props.queueName),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
      removalPolicy,
    });
    markResource(this.queue, { kind: 'queue', name: props.queueName, dlq: dlqContractName });

    const prefixed = physicalName(props.stage, props.queueName);
    this.dlqDepthAlarm = dlqDepthAlarm(
      this,
      'DlqDepthAlarm',
      this.dlq,
      physicalName(props.stage, dlqContractName),
      props.alarmTopic,
    );
    this.oldestMessageAlarm = new cloudwatch.Alarm(this, 'OldestMessageAlarm', {
      alarmName: `${prefixed}-oldest-message-age`,
      alarmDescription: `Oldest message in ${prefixed} older than ${ageThreshold} s: consumer missing, throttled or crashing (records on the retry ladder raise the consumer's -retrying alarm instead).`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: ageThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic)
      this.oldestMessageAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  }
}
