import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  ReconcileSchedule,
  type ReconcileScheduleProps,
} from '../../infra/constructs/reconcile-schedule.ts';
import { buildTestApp, testApp } from './support.ts';

const entry = fileURLToPath(new URL('./fixtures/consumer/handler.ts', import.meta.url));

const build = (overrides: Partial<ReconcileScheduleProps> = {}) => {
  const app = testApp();
  const stack = new Stack(app, 'ReconcileTest');
  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });
  const construct = new ReconcileSchedule(stack, 'Reconcile', {
    stage: 'test',
    table,
    tableIndexNames: ['work'],
    convergenceQueue: new sqs.Queue(stack, 'Convergence'),
    deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
    entry,
    ...overrides,
  });
  return { construct, template: Template.fromStack(stack) };
};

describe('ReconcileSchedule', () => {
  it('keeps the event age below the interval and alarms over 3 intervals of the chosen rate', () => {
    const { construct, template } = build({ rateMinutes: 10 });
    expect(construct.rateMinutes).toBe(10);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'shard-control-test-reconcile-sweep',
      ScheduleExpression: 'rate(10 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 540 } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 540,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SweepSucceeded',
      Period: 600,
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
  });

  it('uses the smallest event age Scheduler allows at a 2-minute rate', () => {
    build({ rateMinutes: 2 }).template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(2 minutes)',
      Target: { RetryPolicy: { MaximumEventAgeInSeconds: 60 } },
    });
  });

  it('trusts scheduler.amazonaws.com from this account only', () => {
    build().template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
    });
  });

  it.each([1, 0, 2.5, 1441])('rejects a rate of %s minutes', (rateMinutes) => {
    expect(() => build({ rateMinutes })).toThrow(/rateMinutes must be an integer in 2\.\.1440/);
  });

  it('takes the rate from CDK context reconcileRateMinutes', () => {
    const { stack } = buildTestApp({
      stage: 'ratetest',
      context: { reconcileRateMinutes: '15' },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
    });
    expect(() =>
      buildTestApp({ stage: 'ratetest', context: { reconcileRateMinutes: 'x' } }),
    ).toThrow(/reconcileRateMinutes must be an integer/);
  });
});
