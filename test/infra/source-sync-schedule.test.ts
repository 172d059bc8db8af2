import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  SourceSyncSchedule,
  type SourceSyncScheduleProps,
} from '../../infra/constructs/source-sync-schedule.ts';
import { buildTestApp, testApp } from './support.ts';

const entry = fileURLToPath(new URL('./fixtures/consumer/handler.ts', import.meta.url));

const build = (overrides: Partial<SourceSyncScheduleProps> = {}) => {
  const app = testApp();
  const stack = new Stack(app, 'SourceSyncTest');
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });
  const construct = new SourceSyncSchedule(stack, 'SourceSync', {
    stage: 'test',
    table,
    tableIndexNames: ['live'],
    shardCreationQueue: new sqs.Queue(stack, 'ShardCreation'),
    workspaceLifecycleQueue: new sqs.Queue(stack, 'WorkspaceLifecycle'),
    deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
    entry,
    ...overrides,
  });
  return { construct, template: Template.fromStack(stack) };
};

type Statement = {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};
const statementsOf = (template: Template, roleFragment: string) =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleFragment))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
const actions = (statements: Statement[]) => statements.flatMap((s) => s.Action);

describe('SourceSyncSchedule', () => {
  it('runs on its own schedule with retries, event age and DLQ like the sweep', () => {
    const { construct, template } = build({ rateMinutes: 10 });
    expect(construct.rateMinutes).toBe(10);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'shard-control-test-source-sync',
      ScheduleExpression: 'rate(10 minutes)',
      Target: {
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 540 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 540,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'shard-control-test-source-sync',
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({
          SHARD_CREATION_QUEUE_URL: Match.anyValue(),
          WORKSPACE_LIFECYCLE_QUEUE_URL: Match.anyValue(),
          POWERTOOLS_SERVICE_NAME: 'source-sync',
        }),
      },
    });
  });

  it('alarms on failed runs, on 3 intervals without success, and on held deletions', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shard-control-test-source-sync-errors',
      MetricName: 'Errors',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shard-control-test-source-sync-missed',
      MetricName: 'SourceSyncSucceeded',
      Dimensions: [{ Name: 'service', Value: 'source-sync' }],
      Period: 300,
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shard-control-test-source-sync-deletions-held',
      MetricName: 'SourceDeletionsHeld',
      Dimensions: [{ Name: 'service', Value: 'source-sync' }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('sends only to the two management queues and writes only its SOURCE partition', () => {
    const { template } = build();
    const statements = statementsOf(template, 'SourceSyncRole');
    const sends = statements.filter((s) => actions([s]).includes('sqs:SendMessage'));
    const targets = JSON.stringify(sends.map((s) => s.Resource));
    expect(targets).toContain('ShardCreation');
    expect(targets).toContain('WorkspaceLifecycle');
    expect(targets).toContain('Dlq'); // the on-failure destination
    expect(actions(statements)).not.toContain('sqs:ReceiveMessage');
    const read = statements.find((s) => s.Sid === 'StateTableRead');
    expect(read?.Action).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:BatchGetItem']),
    );
    expect(JSON.stringify(read?.Resource)).toContain('/index/live');
    expect(read?.Action).not.toContain('dynamodb:PutItem');
    const write = statements.find((s) => s.Sid === 'StateTableOwnPartitions');
    expect(write?.Action).toEqual(
      expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:PartiQLUpdate']),
    );
    expect(write?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SOURCE'] },
    });
    expect(statements.some((s) => s.Sid === 'StateTable')).toBe(false);
  });
});

describe('source reconciliation in the stack', () => {
  it('creates source/url only from context sourceUrl, the defaults always, never the token', () => {
    const params = (context: Record<string, unknown>) =>
      Object.values(
        Template.fromStack(
          buildTestApp({ stage: 'srctest', context: { ...context } }).stack,
        ).findResources('AWS::SSM::Parameter'),
      ).map((p) => p.Properties as { Name: string; Value: string });
    const without = params({});
    const names = without.map((p) => p.Name);
    expect(names).not.toContain('/shard-control/srctest/source/url');
    expect(names).not.toContain('/shard-control/srctest/source/token');
    expect(without).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Name: '/shard-control/srctest/source/full-sync-every',
          Value: '12',
        }),
        expect.objectContaining({
          Name: '/shard-control/srctest/source/delete-grace-seconds',
          Value: '3600',
        }),
        expect.objectContaining({
          Name: '/shard-control/srctest/source/max-deletes',
          Value: '100',
        }),
      ]),
    );
    expect(params({ sourceUrl: 'https://mgmt.example.com' })).toContainEqual(
      expect.objectContaining({
        Name: '/shard-control/srctest/source/url',
        Value: 'https://mgmt.example.com',
      }),
    );
  });

  it('takes its rate from context sourceSyncRateMinutes, outputs its names, projects the live index', () => {
    const { stack } = buildTestApp({
      stage: 'srctest',
      context: { sourceSyncRateMinutes: '15' },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'shard-control-srctest-source-sync',
      ScheduleExpression: 'rate(15 minutes)',
      Target: { DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['QueueReconcileScheduleDlq', 'Arn'] } } },
    });
    template.hasOutput('SourceSyncScheduleName', { Value: { Ref: 'ScheduleSourceSync' } });
    template.hasOutput('SourceSyncFunctionName', { Value: { Ref: 'FunctionSourceSync' } });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'live',
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: Match.arrayWith(['workspaceId', 'lastEventKey']),
          },
        }),
      ]),
    });
    const dashboard = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboard).toContain('SourceDeletionsHeld');
    expect(dashboard).toContain('SourceSyncSucceeded');
  });
});
