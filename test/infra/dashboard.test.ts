import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  CITRUS_LATENCY_METRIC,
  CONSUMER_FLOW_METRICS,
  CONVERGENCE_METRICS,
  OperationsDashboard,
  type OperationsDashboardProps,
  SWEEP_METRICS,
} from '../../infra/constructs/dashboard.ts';
import { QueueWithDlq } from '../../infra/constructs/queue-with-dlq.ts';
import { SWEEP_FUNCTION } from '../../infra/constructs/reconcile-schedule.ts';
import { CONSUMERS } from '../../infra/functions.ts';
import { pascal } from '../../infra/naming.ts';
import { dlqName, QUEUES, SCHEDULE_DLQ } from '../../shared/contracts/names.ts';
import { buildTestApp, testApp } from './support.ts';

// One synth for the whole stack (no bundling: the dashboard does not depend on the bundles).
const { app, stack } = buildTestApp({ stage: 'dev' });
const template = Template.fromStack(stack);
const json = template.toJSON() as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Outputs: Record<string, { Value: unknown }>;
};
const [dashboardId, dashboardResource] = Object.entries(json.Resources).find(
  ([, r]) => r.Type === 'AWS::CloudWatch::Dashboard',
)!;

/** The body with every Ref/GetAtt turned into `${LogicalId}` / `${LogicalId.Attr}`, parsed. */
function renderBody(body: unknown): {
  widgets: { type: string; properties: Record<string, unknown> }[];
} {
  const token = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const p = part as Record<string, unknown>;
    if ('Ref' in p) return `\${${p.Ref as string}}`;
    if ('Fn::GetAtt' in p) return `\${${(p['Fn::GetAtt'] as string[]).join('.')}}`;
    throw new Error(`unexpected token in dashboard body: ${JSON.stringify(part)}`);
  };
  const text =
    typeof body === 'string'
      ? body
      : ((body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? []).map(token).join('');
  return JSON.parse(text);
}
const body = renderBody(dashboardResource.Properties.DashboardBody);
const metrics = body.widgets.flatMap(
  (w) => ((w.properties.metrics as unknown[][] | undefined) ?? []) as unknown[][],
);
const hasMetric = (...prefix: unknown[]) =>
  metrics.some((m) => prefix.every((value, i) => m[i] === value));
const emfMetric = (name: string, service: string) =>
  metrics.some(
    (m) => m[0] === 'ShardControl/dev' && m[1] === name && m[2] === 'service' && m[3] === service,
  );

const deployed = CONSUMERS.map((c) => c.functionName);

describe('OperationsDashboard in the stack', () => {
  it('is named shard-control-<stage> and the name is a stack output', () => {
    expect(dashboardResource.Properties.DashboardName).toBe('shard-control-dev');
    expect(json.Outputs.DashboardName?.Value).toEqual({ Ref: dashboardId });
  });

  it('graphs visible messages and oldest-message age of every queue, and every DLQ depth', () => {
    for (const queue of QUEUES) {
      const id = `\${Queue${pascal(queue)}.QueueName}`;
      expect(hasMetric('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', id)).toBe(
        true,
      );
      expect(hasMetric('AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', id)).toBe(true);
    }
    for (const dlq of [...QUEUES.map(dlqName), SCHEDULE_DLQ]) {
      const id = `\${Queue${pascal(dlq)}.QueueName}`;
      expect(hasMetric('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', id)).toBe(
        true,
      );
    }
  });

  it('graphs invocations, errors, throttles, duration p50/p99 and concurrency of every function', () => {
    const functions = [...deployed, SWEEP_FUNCTION];
    expect(functions.length).toBeGreaterThan(0);
    for (const name of functions) {
      const ref = `\${Function${pascal(name)}}`;
      for (const metric of ['Invocations', 'Errors', 'Throttles', 'ConcurrentExecutions']) {
        expect(hasMetric('AWS/Lambda', metric, 'FunctionName', ref), `${name} ${metric}`).toBe(
          true,
        );
      }
      const durations = metrics.filter(
        (m) => m[1] === 'Duration' && m[3] === ref && typeof m[4] === 'object',
      );
      expect(durations.map((m) => (m[4] as { stat: string }).stat).sort()).toEqual(['p50', 'p99']);
    }
  });

  it('graphs every flow metric per service (namespace ShardControl, dimension service)', () => {
    for (const service of deployed) {
      for (const name of CONSUMER_FLOW_METRICS) {
        expect(emfMetric(name, service), `${name} ${service}`).toBe(true);
      }
      expect(emfMetric(CITRUS_LATENCY_METRIC, service)).toBe(true);
    }
    for (const name of CONVERGENCE_METRICS)
      expect(emfMetric(name, 'converge-shard'), name).toBe(true);
    for (const name of SWEEP_METRICS) expect(emfMetric(name, SWEEP_FUNCTION), name).toBe(true);
    expect(emfMetric(CITRUS_LATENCY_METRIC, SWEEP_FUNCTION)).toBe(true);
    const stats = metrics
      .filter((m) => m[1] === CITRUS_LATENCY_METRIC)
      .map((m) => (m[4] as { stat: string }).stat);
    expect(new Set(stats)).toEqual(new Set(['p50', 'p99']));
    // Every metric name the brief lists is on the dashboard (guards against a rename).
    const names = new Set(metrics.map((m) => m[1]));
    for (const name of [
      ...CONSUMER_FLOW_METRICS,
      CITRUS_LATENCY_METRIC,
      ...CONVERGENCE_METRICS,
      ...SWEEP_METRICS,
    ]) {
      expect(names.has(name), name).toBe(true);
    }
  });

  it('shows every alarm of the stack in one alarm status widget', () => {
    const alarmIds = Object.entries(json.Resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([id]) => `\${${id}.Arn}`);
    expect(alarmIds.length).toBeGreaterThan(0);
    const widgets = body.widgets.filter((w) => w.type === 'alarm');
    expect(widgets).toHaveLength(1);
    expect([...(widgets[0]!.properties.alarms as string[])].sort()).toEqual(alarmIds.sort());
    expect(stack.alarms).toHaveLength(alarmIds.length);
  });

  it('lays widgets out within the 24-column grid', () => {
    const w = body.widgets as unknown as { x: number; width: number }[];
    for (const widget of w) expect(widget.x + widget.width).toBeLessThanOrEqual(24);
  });

  it('adds no cdk-nag findings', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });
});

describe('OperationsDashboard props', () => {
  const build = (overrides: (s: Stack) => Partial<OperationsDashboardProps> = () => ({})) => {
    const stack = new Stack(testApp(), 'DashboardTest');
    const queue = new QueueWithDlq(stack, 'Q', {
      stage: 'test',
      queueName: 'convergence',
      visibilityTimeout: Duration.seconds(60),
    });
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
    });
    new OperationsDashboard(stack, 'Dashboard', {
      stage: 'test',
      queues: [queue],
      consumers: [{ service: 'converge-shard', function: fn }],
      convergenceService: 'converge-shard',
      alarms: [queue.dlqDepthAlarm, queue.oldestMessageAlarm],
      ...overrides(stack),
    });
    return stack;
  };

  it('builds a minimal dashboard (no sweep) without throwing', () => {
    expect(Template.fromStack(build()).findResources('AWS::CloudWatch::Dashboard')).not.toEqual({});
  });

  it.each<[string, (s: Stack) => Partial<OperationsDashboardProps>, RegExp]>([
    ['an unsafe stage', () => ({ stage: 'Bad_Stage' }), /stage must match/],
    ['no queues', () => ({ queues: [] }), /queues must not be empty/],
    ['no consumers', () => ({ consumers: [] }), /consumers must not be empty/],
    ['an unknown convergence service', () => ({ convergenceService: 'nope' }), /not one of/],
    ['no alarms', () => ({ alarms: [] }), /alarms must not be empty/],
    [
      'too many alarms',
      (s) => ({
        alarms: Array.from({ length: 101 }, (_, i) =>
          cloudwatch.Alarm.fromAlarmArn(
            s,
            `A${i}`,
            `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a${i}`,
          ),
        ),
      }),
      /at most 100 alarms/,
    ],
    ['a bad period', () => ({ period: Duration.seconds(90) }), /whole number of minutes/],
    [
      'a duplicate service',
      (s) => {
        const fn = lambda.Function.fromFunctionName(s, 'Other', 'other');
        return {
          consumers: [
            { service: 'converge-shard', function: fn },
            { service: 'converge-shard', function: fn },
          ],
        };
      },
      /duplicate service 'converge-shard'/,
    ],
  ])('rejects %s', (_, overrides, error) => {
    expect(() => build(overrides)).toThrow(error);
  });
});
