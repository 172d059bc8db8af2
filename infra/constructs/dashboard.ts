// The operator's dashboard: queues, functions, flow metrics and every alarm in one place.
// Rows, top to bottom: queues and their DLQs, functions, flow metrics the handlers emit with
// Powertools EMF (namespace ShardControl/{stage}, dimension `service` = short function name),
// and the status of every alarm of the stack.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { assertStage } from '../naming.ts';
import { FUNCTION_NAME_PATTERN, metricsNamespace } from './lambda-function.ts';
import type { QueueWithDlq } from './queue-with-dlq.ts';

/** Emitted by every SQS consumer (shared batch handler) and the flow handlers; Sum per service. */
export const CONSUMER_FLOW_METRICS = [
  'RecordsProcessed',
  'RecordsRetried',
  'PoisonMessages',
  'NodePushFailures',
  'StaleEventsIgnored',
  'WorkspacesPendingPlacement',
] as const;
/** Citrus call latency (ms), emitted by every function that calls Citrus; p50/p99 per service. */
export const CITRUS_LATENCY_METRIC = 'CitrusLatency';
/** Emitted by the convergence consumer. */
export const CONVERGENCE_METRICS = [
  'ShardsConverged',
  'ShardsFailed',
  'NodeSyncFailures',
  'UnknownShardJobs',
] as const;
/** Emitted by the reconciliation sweep. */
export const SWEEP_METRICS = [
  'SweepSucceeded',
  'SweepJobs',
  'SweepErrors',
  'SweepDuration',
  'SweepsSkipped',
] as const;
/** Emitted by source reconciliation (source-sync). */
export const SOURCE_SYNC_METRICS = [
  'SourceSyncSucceeded',
  'SourceSyncFailures',
  'SourceSyncSkipped',
  'SourceRepairsSent',
  'SourceLocationsMissing',
  'SourceWorkspacesMissing',
  'SourceWorkspacesBehind',
  'SourceWorkspacesAbsent',
  'SourceDeletionsHeld',
  'SourceSyncDuration',
] as const;
/** CloudWatch shows at most 100 alarms in one alarm status widget. */
export const MAX_ALARMS = 100;

export const dashboardName = (stage: string) => `shard-control-${stage}`;

export interface DashboardFunction {
  /** Short function name: the Powertools `service` dimension, e.g. `shard-creation`. */
  readonly service: string;
  readonly function: lambda.IFunction;
}

export interface DashboardDeadLetterQueue {
  /** Contract name, e.g. `reconcile-schedule-dlq`. */
  readonly name: string;
  readonly queue: sqs.IQueue;
}

export interface OperationsDashboardProps {
  readonly stage: string;
  /** Source queues with their DLQs (at least one). */
  readonly queues: readonly QueueWithDlq[];
  /** DLQs without a source queue (the reconcile schedule's). @default none */
  readonly deadLetterQueues?: readonly DashboardDeadLetterQueue[];
  /** SQS-consumer functions. */
  readonly consumers: readonly DashboardFunction[];
  /** Service of `consumers` that converges shards (its convergence row). @default no row */
  readonly convergenceService?: string;
  /** The reconciliation sweep function. @default no sweep row */
  readonly sweep?: DashboardFunction;
  /** The source reconciliation function. @default no source row */
  readonly sourceSync?: DashboardFunction;
  /** Every alarm of the stack, shown in one status widget (at most MAX_ALARMS). */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** Period of every graph. @default 5 minutes */
  readonly period?: Duration;
}

const FULL_WIDTH = 24;
const HEIGHT = 6;

export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    validate(props);
    const period = props.period ?? Duration.minutes(5);
    const functions = scheduledAndConsumers(props);
    const emf = (metricName: string, service: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: metricsNamespace(props.stage),
        metricName,
        dimensionsMap: { service },
        statistic,
        period,
        label: label ?? service,
      });
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      width: number,
      leftYAxis?: cloudwatch.YAxisProps,
    ) =>
      new cloudwatch.GraphWidget({
        title,
        left,
        width,
        height: HEIGHT,
        leftYAxis: leftYAxis ?? { min: 0 },
        legendPosition: cloudwatch.LegendPosition.BOTTOM,
      });
    const header = (markdown: string) =>
      new cloudwatch.TextWidget({ markdown, width: FULL_WIDTH, height: 1 });

    const queueMax = { period, statistic: cloudwatch.Stats.MAXIMUM };
    const dlqs = [
      ...props.queues.map((q) => ({ name: `${q.queueName}-dlq`, queue: q.dlq as sqs.IQueue })),
      ...(props.deadLetterQueues ?? []),
    ];
    const rows: cloudwatch.IWidget[][] = [
      [
        header(
          '## Queues\nAny message in a DLQ needs an operator: `shardctl dlq peek`, replay once fixed.',
        ),
      ],
      [
        graph(
          'Visible messages',
          props.queues.map((q) =>
            q.queue.metricApproximateNumberOfMessagesVisible({ ...queueMax, label: q.queueName }),
          ),
          8,
        ),
        graph(
          'Age of oldest message (s)',
          props.queues.map((q) =>
            q.queue.metricApproximateAgeOfOldestMessage({ ...queueMax, label: q.queueName }),
          ),
          8,
        ),
        graph(
          'DLQ depth',
          dlqs.map((d) =>
            d.queue.metricApproximateNumberOfMessagesVisible({ ...queueMax, label: d.name }),
          ),
          8,
        ),
      ],
      [header('## Functions')],
      [
        graph(
          'Invocations',
          functions.map((f) =>
            f.function.metricInvocations({ period, statistic: 'Sum', label: f.service }),
          ),
          4,
        ),
        graph(
          'Errors',
          functions.map((f) =>
            f.function.metricErrors({ period, statistic: 'Sum', label: f.service }),
          ),
          4,
        ),
        graph(
          'Throttles',
          functions.map((f) =>
            f.function.metricThrottles({ period, statistic: 'Sum', label: f.service }),
          ),
          4,
        ),
        ...(['p50', 'p99'] as const).map((p) =>
          graph(
            `Duration ${p} (ms)`,
            functions.map((f) =>
              f.function.metricDuration({ period, statistic: p, label: f.service }),
            ),
            4,
          ),
        ),
        graph(
          'Concurrent executions (max)',
          functions.map((f) =>
            f.function.metric('ConcurrentExecutions', {
              period,
              statistic: 'Maximum',
              label: f.service,
            }),
          ),
          4,
        ),
      ],
      [header('## Flows (Powertools EMF, namespace `ShardControl`, per `service`)')],
      [
        ...CONSUMER_FLOW_METRICS.map((name) =>
          graph(
            name,
            props.consumers.map((f) => emf(name, f.service, 'Sum')),
            FULL_WIDTH / 8,
          ),
        ),
        ...(['p50', 'p99'] as const).map((p) =>
          graph(
            `${CITRUS_LATENCY_METRIC} ${p} (ms)`,
            functions.map((f) => emf(CITRUS_LATENCY_METRIC, f.service, p)),
            FULL_WIDTH / 8,
          ),
        ),
      ],
    ];

    const convergence = props.convergenceService;
    const sweep = props.sweep?.service;
    if (convergence !== undefined || sweep !== undefined) {
      const row: cloudwatch.IWidget[] = [];
      if (convergence !== undefined) {
        row.push(
          graph(
            `Convergence (${convergence})`,
            CONVERGENCE_METRICS.map((name) => emf(name, convergence, 'Sum', name)),
            sweep === undefined ? FULL_WIDTH : 6,
          ),
        );
      }
      if (sweep !== undefined) {
        const width = convergence === undefined ? 8 : 6;
        row.push(
          graph(
            `Sweeps (${sweep})`,
            ['SweepSucceeded', 'SweepErrors', 'SweepsSkipped'].map((name) =>
              emf(name, sweep, 'Sum', name),
            ),
            width,
          ),
          graph('SweepJobs (converge jobs enqueued)', [emf('SweepJobs', sweep, 'Sum')], width),
          graph(
            'SweepDuration (ms)',
            [
              emf('SweepDuration', sweep, 'Average', 'average'),
              emf('SweepDuration', sweep, 'Maximum', 'maximum'),
            ],
            width,
          ),
        );
      }
      rows.push(row);
    }

    const source = props.sourceSync?.service;
    if (source !== undefined) {
      const sum = (names: readonly string[]) => names.map((name) => emf(name, source, 'Sum', name));
      rows.push([
        graph(
          `Source syncs (${source})`,
          sum(['SourceSyncSucceeded', 'SourceSyncFailures', 'SourceSyncSkipped']),
          6,
        ),
        graph(
          'Source drift repaired (events sent, by kind)',
          sum([
            'SourceRepairsSent',
            'SourceLocationsMissing',
            'SourceWorkspacesMissing',
            'SourceWorkspacesBehind',
            'SourceWorkspacesAbsent',
          ]),
          6,
        ),
        graph(
          'SourceDeletionsHeld (waiting for the operator)',
          [emf('SourceDeletionsHeld', source, 'Maximum', 'held')],
          6,
        ),
        graph(
          'SourceSyncDuration (ms)',
          [
            emf('SourceSyncDuration', source, 'Average', 'average'),
            emf('SourceSyncDuration', source, 'Maximum', 'maximum'),
          ],
          6,
        ),
      ]);
    }

    rows.push(
      [header('## Alarms')],
      [
        new cloudwatch.AlarmStatusWidget({
          title: `Every alarm of shard-control ${props.stage}`,
          alarms: [...props.alarms],
          width: FULL_WIDTH,
          height: Math.max(3, Math.ceil(props.alarms.length / 4) + 2),
          sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        }),
      ],
    );

    this.dashboardName = dashboardName(props.stage);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}

function validate(props: OperationsDashboardProps): void {
  const fail = (message: string): never => {
    throw new Error(`OperationsDashboard ${props.stage}: ${message}`);
  };
  assertStage(props.stage);
  if (props.queues.length === 0) fail('queues must not be empty');
  if (props.consumers.length === 0) fail('consumers must not be empty');
  const unique = (what: string, names: readonly string[]) => {
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) fail(`duplicate ${what} '${name}'`);
      seen.add(name);
    }
  };
  unique('queue', [
    ...props.queues.flatMap((q) => [q.queueName, `${q.queueName}-dlq`]),
    ...(props.deadLetterQueues ?? []).map((d) => d.name),
  ]);
  const services = scheduledAndConsumers(props).map((f) => f.service);
  for (const service of services) {
    if (!FUNCTION_NAME_PATTERN.test(service)) {
      fail(`service '${service}' must match ${FUNCTION_NAME_PATTERN}`);
    }
  }
  unique('service', services);
  if (
    props.convergenceService !== undefined &&
    !props.consumers.some((c) => c.service === props.convergenceService)
  ) {
    fail(`convergenceService '${props.convergenceService}' is not one of the consumers`);
  }
  if (props.alarms.length === 0) fail('alarms must not be empty');
  if (props.alarms.length > MAX_ALARMS) {
    fail(`at most ${MAX_ALARMS} alarms fit one status widget, got ${props.alarms.length}`);
  }
  if (new Set(props.alarms).size !== props.alarms.length) fail('alarms contain duplicates');
  const period = props.period?.toSeconds();
  if (period !== undefined && (period < 60 || period % 60 !== 0)) {
    fail(`period must be a whole number of minutes, got ${period} s`);
  }
}

/** Every function of the dashboard: consumers, then the scheduled ones. */
function scheduledAndConsumers(props: OperationsDashboardProps): DashboardFunction[] {
  return [
    ...props.consumers,
    ...(props.sweep ? [props.sweep] : []),
    ...(props.sourceSync ? [props.sourceSync] : []),
  ];
}
