import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSUMERS } from '../../infra/functions.ts';
import { pascal, RESOURCE_METADATA_KEY } from '../../infra/naming.ts';
import { DEFAULT_CITRUS_URL } from '../../infra/stack.ts';
import {
  DLQ_RETENTION_DAYS,
  dlqName,
  MAX_RECEIVE_COUNT,
  PARAMETERS,
  QUEUES,
  SCHEDULE_DLQ,
  ssmPrefix,
  tableName,
} from '../../shared/contracts/names.ts';
import { buildTestApp } from './support.ts';

// Synth (with bundling and cdk-nag) once for the whole file: it is the slow part.
const outdir = mkdtempSync(join(tmpdir(), 'shard-control-infra-'));
const { app, stack } = buildTestApp({ stage: 'dev', outdir, bundle: true });
const assembly = app.synth();
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const logicalIdOfQueue = (name: string) => `Queue${pascal(name)}`;

describe('app', () => {
  it('names the stack shard-control-<stage>', () => {
    expect(stack.stackName).toBe('shard-control-dev');
    expect(assembly.getStackByName('shard-control-dev').templateFile).toBe(
      'shard-control-dev.template.json',
    );
  });

  it('passes cdk-nag AwsSolutions with every finding acknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations).toEqual([]);
    const validation = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(validation.pluginReports).toEqual([]);
  });

  it('fails synth on an unacknowledged cdk-nag error', () => {
    const probeDir = mkdtempSync(join(tmpdir(), 'sc-nag-'));
    const probe = buildTestApp({
      stage: 'nagprobe',
      outdir: probeDir,
    });
    new sqs.Queue(probe.stack, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => probe.app.synth()).toThrow(/AwsSolutions-SQS2/);
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('rejects an unsafe stage name', () => {
    expect(() => buildTestApp({ stage: 'Prod_1' })).toThrow(/stage must match/);
  });
});

describe('queues', () => {
  it('creates every contract queue and DLQ, even without a consumer function', () => {
    for (const queue of QUEUES) {
      expect(resources[logicalIdOfQueue(queue)]?.Properties.QueueName).toBe(
        `shard-control-dev-${queue}`,
      );
      expect(resources[logicalIdOfQueue(dlqName(queue))]?.Properties.QueueName).toBe(
        `shard-control-dev-${dlqName(queue)}`,
      );
    }
    expect(resources[logicalIdOfQueue(SCHEDULE_DLQ)]?.Properties.QueueName).toBe(
      `shard-control-dev-${SCHEDULE_DLQ}`,
    );
    template.resourceCountIs('AWS::SQS::Queue', QUEUES.length * 2 + 1);
  });

  it('encrypts every queue with SQS-managed SSE and denies non-TLS access', () => {
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue'))) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    }
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(QUEUES.length * 2 + 1);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      );
    }
  });

  it('redrives after the retry ladder (maxReceiveCount 72) to <queue>-dlq, kept 14 days', () => {
    expect(MAX_RECEIVE_COUNT).toBe(72);
    for (const queue of QUEUES) {
      expect(resources[logicalIdOfQueue(queue)]?.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalIdOfQueue(dlqName(queue)), 'Arn'] },
        maxReceiveCount: MAX_RECEIVE_COUNT,
      });
      expect(resources[logicalIdOfQueue(dlqName(queue))]?.Properties.MessageRetentionPeriod).toBe(
        1_209_600,
      );
    }
    expect(resources[logicalIdOfQueue(SCHEDULE_DLQ)]?.Properties.MessageRetentionPeriod).toBe(
      DLQ_RETENTION_DAYS * 86_400,
    );
  });

  it('sizes each visibility timeout at least 6x its consumer timeout, deployed or not', () => {
    for (const consumer of CONSUMERS) {
      const visibility = resources[logicalIdOfQueue(consumer.queue)]?.Properties.VisibilityTimeout;
      expect(visibility).toBeGreaterThanOrEqual(consumer.timeoutSeconds * 6);
    }
  });

  it('marks queues with shard-control metadata for the local stack', () => {
    expect(resources.QueueShardCreation?.Metadata?.[RESOURCE_METADATA_KEY]).toEqual({
      kind: 'queue',
      name: 'shard-creation',
      dlq: 'shard-creation-dlq',
    });
    expect(resources.QueueReconcileScheduleDlq?.Metadata?.[RESOURCE_METADATA_KEY]).toEqual({
      kind: 'dlq',
      name: SCHEDULE_DLQ,
    });
  });
});

describe('alarms', () => {
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
  const alarmOn = (metric: string, queueLogicalId: string) =>
    alarms.filter(
      (a) =>
        a.Properties.MetricName === metric &&
        JSON.stringify(a.Properties.Dimensions).includes(`"${queueLogicalId}"`),
    );

  it('alarms on every DLQ depth above 0', () => {
    for (const dlq of [...QUEUES.map(dlqName), SCHEDULE_DLQ]) {
      const [alarm] = alarmOn('ApproximateNumberOfMessagesVisible', logicalIdOfQueue(dlq));
      expect(alarm?.Properties).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmName: `shard-control-dev-${dlq}-depth`,
      });
    }
  });

  it('alarms on the age of the oldest message of every source queue', () => {
    for (const queue of QUEUES) {
      expect(alarmOn('ApproximateAgeOfOldestMessage', logicalIdOfQueue(queue))).toHaveLength(1);
    }
  });

  it('alarms on a record still failing on its 7th receive, for every consumer', () => {
    const retrying = alarms.filter((a) => a.Properties.MetricName === 'RetriedReceiveCount');
    expect(retrying).toHaveLength(CONSUMERS.length);
    for (const consumer of CONSUMERS) {
      expect(
        retrying.find(
          (a) => a.Properties.AlarmName === `shard-control-dev-${consumer.functionName}-retrying`,
        )?.Properties,
      ).toMatchObject({
        Namespace: 'ShardControl/dev',
        Dimensions: [{ Name: 'service', Value: consumer.functionName }],
        Statistic: 'Maximum',
        Threshold: 7,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('alarms on errors of every deployed function, the scheduled ones included', () => {
    const errors = alarms.filter((a) => a.Properties.MetricName === 'Errors');
    expect(errors).toHaveLength(CONSUMERS.length + 2);
    expect(errors.map((a) => a.Properties.AlarmName)).toContain(
      'shard-control-dev-reconcile-sweep-errors',
    );
  });

  it('sets RETRY_BASE_SECONDS of every function from context retryBaseSeconds', () => {
    const fast = buildTestApp({
      stage: 'qa',
      context: { retryBaseSeconds: '10' },
    });
    const functions = Object.values(
      Template.fromStack(fast.stack).findResources('AWS::Lambda::Function'),
    );
    expect(functions).toHaveLength(CONSUMERS.length + 2);
    for (const fn of functions) {
      expect(fn.Properties.Environment.Variables.RETRY_BASE_SECONDS).toBe('10');
    }
    for (const bad of ['0', '-1', 'soon', '200']) {
      expect(() => buildTestApp({ stage: 'qa', context: { retryBaseSeconds: bad } })).toThrow(
        /retryBaseSeconds|must be a number/,
      );
    }
  });

  it('creates an alarm topic only with context alarmEmail', () => {
    template.resourceCountIs('AWS::SNS::Topic', 0);
    const withEmail = buildTestApp({
      stage: 'prod',
      context: {
        alarmEmail: 'ops@example.com',
        citrusUrl: 'https://citrus.example.com',
      },
    });
    const prod = Template.fromStack(withEmail.stack);
    prod.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    const topicId = Object.keys(prod.findResources('AWS::SNS::Topic'))[0];
    prod.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: topicId }] });
    prod.hasOutput('AlarmTopicArn', {});
    // Non-dev stages keep their data.
    prod.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    prod.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/shard-control/prod/citrus/url',
      Value: 'https://citrus.example.com',
    });
  });
});

describe('functions', () => {
  it('deploys every consumer plus the sweep and the source sync', () => {
    template.resourceCountIs('AWS::Lambda::Function', CONSUMERS.length + 2);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', CONSUMERS.length);
    expect(CONSUMERS.map((c) => c.functionName)).toContain('shard-creation');
  });

  for (const consumer of CONSUMERS) {
    const fnId = `Function${pascal(consumer.functionName)}`;

    it(`${consumer.functionName}: nodejs22.x on arm64, active tracing, bundled ESM asset`, () => {
      const fn = resources[fnId];
      expect(fn?.Properties).toMatchObject({
        FunctionName: `shard-control-dev-${consumer.functionName}`,
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: consumer.timeoutSeconds,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
      const assetPath = fn?.Metadata?.['aws:asset:path'];
      expect(typeof assetPath).toBe('string');
      const bundle = join(outdir, assetPath as string, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith('import { createRequire }')).toBe(true);
      expect(fn?.Metadata?.[RESOURCE_METADATA_KEY]).toEqual({
        kind: 'function',
        name: consumer.functionName,
        sourceQueue: consumer.queue,
      });
    });

    it(`${consumer.functionName}: environment`, () => {
      expect(resources[fnId]?.Properties.Environment).toEqual({
        Variables: {
          STAGE: 'dev',
          TABLE_NAME: { Ref: 'Table' },
          SOURCE_QUEUE_URL: { Ref: logicalIdOfQueue(consumer.queue) },
          DLQ_URL: { Ref: logicalIdOfQueue(dlqName(consumer.queue)) },
          POWERTOOLS_SERVICE_NAME: consumer.functionName,
          POWERTOOLS_METRICS_NAMESPACE: 'ShardControl/dev',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          RETRY_BASE_SECONDS: '30',
        },
      });
    });

    it(`${consumer.functionName}: event source mapping with partial batch responses`, () => {
      expect(
        resources[`EventSourceMapping${pascal(consumer.functionName)}`]?.Properties,
      ).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': [logicalIdOfQueue(consumer.queue), 'Arn'] },
        FunctionName: { Ref: fnId },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: consumer.batchSize,
        ...(consumer.maxConcurrency
          ? { ScalingConfig: { MaximumConcurrency: consumer.maxConcurrency } }
          : {}),
        ...(consumer.maxBatchingWindowSeconds
          ? { MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds }
          : {}),
      });
    });
  }

  it('shard-creation protects Citrus with a small maximum concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: 'FunctionShardCreation' },
      ScalingConfig: { MaximumConcurrency: 5 },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
    });
  });

  it('grants queue, DLQ, table, stage parameters and aws/ssm decrypt, nothing broader', () => {
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('ShardCreationConsumerRole'),
    );
    const statements = policy?.Properties.PolicyDocument.Statement as {
      Action: string | string[];
      Resource: unknown;
      Condition?: unknown;
    }[];
    const on = (resource: unknown) =>
      statements
        .filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(resource)))
        .flatMap((s) => s.Action);
    expect(on({ 'Fn::GetAtt': ['QueueShardCreation', 'Arn'] })).toEqual(
      expect.arrayContaining([
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
      ]),
    );
    // It sends only to its DLQ: not to its own queue, not to the convergence queue.
    expect(on({ 'Fn::GetAtt': ['QueueShardCreation', 'Arn'] })).not.toContain('sqs:SendMessage');
    expect(on({ 'Fn::GetAtt': ['QueueConvergence', 'Arn'] })).toEqual([]);
    expect(on({ 'Fn::GetAtt': ['QueueShardCreationDlq', 'Arn'] })).toContain('sqs:SendMessage');
    expect(on({ 'Fn::GetAtt': ['Table', 'Arn'] })).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
      ]),
    );
    const ssm = statements.find((s) =>
      JSON.stringify(s.Resource).includes(':parameter/shard-control/dev/*'),
    );
    expect(ssm?.Action).toEqual([
      'ssm:GetParameter',
      'ssm:GetParameters',
      'ssm:GetParametersByPath',
    ]);
    const kms = statements.find((s) => s.Action === 'kms:Decrypt');
    expect(JSON.stringify(kms?.Condition)).toContain('kms:ViaService');
    expect(JSON.stringify(kms?.Condition)).toContain('ssm.');
    // No dynamodb/sqs/ssm wildcard resource anywhere (X-Ray is the only `*`).
    for (const s of statements.filter((s) => s.Resource === '*')) {
      expect(s.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    }
  });
});

describe('table', () => {
  it('has pk/sk, on-demand billing, PITR, TTL expiresAt and AWS-managed encryption', () => {
    expect(resources.Table?.Properties).toMatchObject({
      TableName: tableName('dev'),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(resources.Table?.Metadata?.[RESOURCE_METADATA_KEY]).toEqual({
      kind: 'table',
      name: 'shard-control-dev',
    });
  });

  it('has the sparse work, byLocation and live GSIs', () => {
    const indexes = resources.Table?.Properties.GlobalSecondaryIndexes;
    expect(indexes).toEqual([
      {
        IndexName: 'work',
        KeySchema: [
          { AttributeName: 'workPk', KeyType: 'HASH' },
          { AttributeName: 'workSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'byLocation',
        KeySchema: [
          { AttributeName: 'locationPk', KeyType: 'HASH' },
          { AttributeName: 'locationSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'live',
        KeySchema: [
          { AttributeName: 'livePk', KeyType: 'HASH' },
          { AttributeName: 'liveSk', KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: [
            'workspaceId',
            'userId',
            'businessId',
            'locationId',
            'status',
            'lastEventAt',
            'lastEventKey',
          ],
        },
      },
    ]);
    expect(resources.Table?.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining(
        ['pk', 'sk', 'workPk', 'workSk', 'locationPk', 'locationSk', 'livePk', 'liveSk'].map(
          (name) => ({
            AttributeName: name,
            AttributeType: 'S',
          }),
        ),
      ),
    );
  });

  it('is disposable in dev (no deletion protection, DESTROY)', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('is the only table (no separate idempotency table)', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });
});

describe('parameters', () => {
  it('creates every non-secure parameter with its default, and no SecureString', () => {
    const params = Object.values(template.findResources('AWS::SSM::Parameter')).map(
      (p) => p.Properties,
    );
    // Optional ones (source/url) exist only when given: absent means off.
    const expected = Object.values(PARAMETERS).filter((p) => !p.secure && !('optional' in p));
    expect(params).toHaveLength(expected.length);
    for (const parameter of expected) {
      const value = 'default' in parameter ? parameter.default : DEFAULT_CITRUS_URL;
      expect(params).toContainEqual(
        expect.objectContaining({
          Name: `${ssmPrefix('dev')}/${parameter.name}`,
          Type: 'String',
          Value: value,
        }),
      );
    }
    for (const parameter of Object.values(PARAMETERS).filter((p) => p.secure)) {
      expect(params.map((p) => p.Name)).not.toContain(`${ssmPrefix('dev')}/${parameter.name}`);
    }
  });
});

describe('outputs and producer policy', () => {
  it('outputs every queue URL/ARN, the table name and the producer policy ARN', () => {
    for (const queue of QUEUES) {
      const name = pascal(queue);
      template.hasOutput(`${name}QueueUrl`, { Value: { Ref: logicalIdOfQueue(queue) } });
      template.hasOutput(`${name}QueueArn`, {
        Value: { 'Fn::GetAtt': [logicalIdOfQueue(queue), 'Arn'] },
      });
      template.hasOutput(`${name}DlqUrl`, { Value: { Ref: logicalIdOfQueue(dlqName(queue)) } });
      template.hasOutput(`${name}DlqArn`, {});
    }
    template.hasOutput('ReconcileScheduleDlqUrl', { Value: { Ref: 'QueueReconcileScheduleDlq' } });
    template.hasOutput('ReconcileScheduleName', { Value: { Ref: 'ScheduleReconcileSweep' } });
    template.hasOutput('ReconcileSweepFunctionName', { Value: { Ref: 'FunctionReconcileSweep' } });
    template.hasOutput('TableName', { Value: { Ref: 'Table' } });
    template.hasOutput('ProducerPolicyArn', {});
  });

  it('lets producers send to the three source queues only', () => {
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      ManagedPolicyName: 'shard-control-dev-producer',
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
            Resource: QUEUES.map((queue) => ({ 'Fn::GetAtt': [logicalIdOfQueue(queue), 'Arn'] })),
          },
        ],
      },
    });
  });
});

describe('reconciliation in the stack', () => {
  const policyOf = (roleFragment: string) =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleFragment))
      .flatMap(
        (p) =>
          p.Properties.PolicyDocument.Statement as {
            Action: string | string[];
            Resource: unknown;
          }[],
      );
  const actionsOn = (statements: { Action: string | string[]; Resource: unknown }[], r: unknown) =>
    statements
      .filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(r)))
      .flatMap((s) => s.Action);

  it('runs the sweep every 5 minutes by default, dead-lettering to reconcile-schedule-dlq', () => {
    expect(resources.ScheduleReconcileSweep?.Properties).toMatchObject({
      Name: 'shard-control-dev-reconcile-sweep',
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': ['FunctionReconcileSweep', 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['QueueReconcileScheduleDlq', 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 240 },
      },
    });
    expect(resources.ScheduleReconcileSweep?.Metadata?.[RESOURCE_METADATA_KEY]).toEqual({
      kind: 'schedule',
      name: 'reconcile-sweep',
    });
  });

  it('gives the sweep its table (work index only), the convergence queue and stage parameters', () => {
    expect(resources.FunctionReconcileSweep?.Properties.Environment).toEqual({
      Variables: {
        STAGE: 'dev',
        TABLE_NAME: { Ref: 'Table' },
        CONVERGENCE_QUEUE_URL: { Ref: 'QueueConvergence' },
        POWERTOOLS_SERVICE_NAME: 'reconcile-sweep',
        POWERTOOLS_METRICS_NAMESPACE: 'ShardControl/dev',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        RETRY_BASE_SECONDS: '30',
      },
    });
    const statements = policyOf('ReconcileRole');
    expect(actionsOn(statements, { 'Fn::GetAtt': ['QueueConvergence', 'Arn'] })).toContain(
      'sqs:SendMessage',
    );
    // Never a consumer of any queue.
    expect(statements.flatMap((s) => s.Action)).not.toContain('sqs:ReceiveMessage');
    const table = statements.find((s) => JSON.stringify(s.Resource).includes('"Table"'));
    expect(table?.Action).toEqual(
      expect.arrayContaining(['dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']),
    );
    expect(JSON.stringify(table?.Resource)).toContain('/index/work');
    expect(JSON.stringify(table?.Resource)).not.toContain('/index/byLocation');
    expect(
      statements.some((s) => JSON.stringify(s.Resource).includes(':parameter/shard-control/dev/*')),
    ).toBe(true);
  });

  it('sends failed async sweeps to the schedule DLQ without Lambda retries', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: 'FunctionReconcileSweep' },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 240,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': ['QueueReconcileScheduleDlq', 'Arn'] } },
      },
    });
    expect(
      actionsOn(policyOf('ReconcileRole'), { 'Fn::GetAtt': ['QueueReconcileScheduleDlq', 'Arn'] }),
    ).toContain('sqs:SendMessage');
  });

  it("lets the schedule's role invoke the sweep and send to the schedule DLQ, nothing else", () => {
    const statements = policyOf('ReconcileScheduleRole');
    expect(statements.flatMap((s) => s.Action).sort()).toEqual([
      'lambda:InvokeFunction',
      'sqs:SendMessage',
    ]);
    expect(actionsOn(statements, { 'Fn::GetAtt': ['QueueReconcileScheduleDlq', 'Arn'] })).toEqual([
      'sqs:SendMessage',
    ]);
  });

  it('alarms when 3 intervals pass without a SweepSucceeded metric (missing data breaches)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shard-control-dev-reconcile-sweep-missed',
      Namespace: 'ShardControl/dev',
      MetricName: 'SweepSucceeded',
      Dimensions: [{ Name: 'service', Value: 'reconcile-sweep' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('converge-shard: convergence queue, batch 1, max concurrency 20, no GSI access', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: 'FunctionConvergeShard' },
      EventSourceArn: { 'Fn::GetAtt': ['QueueConvergence', 'Arn'] },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    const variables = resources.FunctionConvergeShard?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(variables.Variables).toMatchObject({
      SOURCE_QUEUE_URL: { Ref: 'QueueConvergence' },
      DLQ_URL: { Ref: 'QueueConvergenceDlq' },
    });
    // Only the sweep sends convergence jobs: the consumer neither sends nor knows the URL.
    expect(variables.Variables).not.toHaveProperty('CONVERGENCE_QUEUE_URL');
    const statements = policyOf('ConvergeShardConsumerRole');
    expect(actionsOn(statements, { 'Fn::GetAtt': ['QueueConvergence', 'Arn'] })).not.toContain(
      'sqs:SendMessage',
    );
    expect(JSON.stringify(statements)).not.toContain('/index/');
    expect(JSON.stringify(statements)).not.toContain('QueueShardCreation');
    // Node records are written 25 per BatchExecuteStatement of PartiQL UPDATEs.
    expect(actionsOn(statements, { 'Fn::GetAtt': ['Table', 'Arn'] })).toEqual(
      expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:PartiQLUpdate']),
    );
  });
});
