import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCAL } from '../../../local/defaults.ts';
import { resolveEntry } from '../../../local/runtime/lambda-pool.ts';
import {
  type CfnTemplate,
  deriveTopology,
  type Synthesized,
  synthesizeLocal,
  type Topology,
} from '../../../local/runtime/template.ts';
import {
  dlqName,
  MAX_RECEIVE_COUNT,
  PARAMETERS,
  QUEUES,
  ssmPrefix,
  tableName,
} from '../../../shared/contracts/names.ts';

const SQS = 'http://127.0.0.1:9324';

describe('local topology from the synthesized template', () => {
  let synth: Synthesized;
  let topo: Topology;

  beforeAll(async () => {
    // Synthesized once for the whole file: bundling every function takes seconds.
    synth = await synthesizeLocal();
    topo = deriveTopology(synth.template, { sqsEndpoint: SQS, assemblyDir: synth.assemblyDir });
  }, 120_000);

  it('caches the synthesis per process', async () => {
    expect(await synthesizeLocal()).toBe(synth);
  });

  it('has every contract queue and DLQ under its local name, DLQs first', () => {
    const names = topo.queues.map((q) => q.name);
    for (const q of QUEUES) {
      expect(names).toContain(q);
      expect(names).toContain(dlqName(q));
    }
    expect(names).toContain('reconcile-schedule-dlq');
    const firstSource = topo.queues.findIndex((q) => q.dlq);
    expect(topo.queues.slice(firstSource).every((q) => q.dlq)).toBe(true);
  });

  it('resolves redrive policies and URLs to local values', () => {
    const q = topo.queues.find((x) => x.name === 'shard-creation')!;
    expect(q.url).toBe(`${SQS}/${LOCAL.accountId}/shard-creation`);
    expect(q.arn).toBe('arn:aws:sqs:us-east-1:000000000000:shard-creation');
    expect(q.dlq).toBe('shard-creation-dlq');
    expect(JSON.parse(q.attributes.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:shard-creation-dlq',
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    expect(Number(q.attributes.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * 60);
    const dlq = topo.queues.find((x) => x.name === 'shard-creation-dlq')!;
    expect(dlq.attributes.MessageRetentionPeriod).toBe(String(14 * 86_400));
  });

  it('lowers every redrive maxReceiveCount when asked (tests of the DLQ path)', () => {
    const low = deriveTopology(synth.template, {
      sqsEndpoint: SQS,
      assemblyDir: synth.assemblyDir,
      maxReceiveCount: 3,
    });
    const sources = low.queues.filter((q) => q.dlq);
    expect(sources.map((q) => q.name).sort()).toEqual([...QUEUES].sort());
    for (const q of sources) {
      expect(q.maxReceiveCount).toBe(3);
      expect(JSON.parse(q.attributes.RedrivePolicy!).maxReceiveCount).toBe(3);
    }
    expect(() =>
      deriveTopology(synth.template, {
        sqsEndpoint: SQS,
        assemblyDir: synth.assemblyDir,
        maxReceiveCount: 0,
      }),
    ).toThrow(/maxReceiveCount/);
  });

  it('has the table with its keys, GSIs and TTL', () => {
    expect(topo.tables).toHaveLength(1);
    const t = topo.tables[0]!;
    expect(t.name).toBe(tableName('local'));
    expect(t.keySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(t.globalSecondaryIndexes.map((g) => g.IndexName).sort()).toEqual([
      'byLocation',
      'live',
      'work',
    ]);
    expect(t.ttlAttribute).toBe('expiresAt');
  });

  it('has the String parameters with their defaults', () => {
    const byName = new Map(topo.parameters.map((p) => [p.name, p.value]));
    const prefix = ssmPrefix('local');
    for (const p of Object.values(PARAMETERS)) {
      if (p.secure) expect(byName.has(`${prefix}/${p.name}`)).toBe(false);
      else if ('default' in p) expect(byName.get(`${prefix}/${p.name}`)).toBe(p.default);
    }
  });

  it('resolves function env, bundle and mapping', () => {
    const fn = topo.functions.find((f) => f.name === 'shard-creation')!;
    expect(fn.functionName).toBe('shard-control-local-shard-creation');
    expect(fn.env).toMatchObject({
      STAGE: 'local',
      TABLE_NAME: 'shard-control-local',
      SOURCE_QUEUE_URL: `${SQS}/000000000000/shard-creation`,
      DLQ_URL: `${SQS}/000000000000/shard-creation-dlq`,
    });
    for (const v of Object.values(fn.env)) expect(typeof v).toBe('string');
    expect(fn.timeoutSeconds).toBeGreaterThan(0);
    expect(fn.memorySize).toBeGreaterThanOrEqual(128);
    expect(existsSync(resolveEntry(fn, 'bundle').entry)).toBe(true);
    expect(resolveEntry(fn, 'ts').entry).toMatch(/functions\/shard-creation\/handler\.ts$/);

    const m = topo.mappings.find((x) => x.functionName === 'shard-creation')!;
    expect(m).toMatchObject({
      queueName: 'shard-creation',
      reportBatchItemFailures: true,
      enabled: true,
    });
    expect(m.batchSize).toBeGreaterThanOrEqual(1);
    expect(m.maxConcurrency).toBeGreaterThanOrEqual(2);
    // Every function is fed by some mapping or schedule.
    for (const f of topo.functions) {
      const fed =
        topo.mappings.some((x) => x.functionName === f.name) ||
        topo.schedules.some((s) => s.functionName === f.name);
      expect(fed, f.name).toBe(true);
    }
  });
});

describe('intrinsic resolution', () => {
  const template = (
    env: Record<string, unknown>,
    extra: CfnTemplate['Resources'] = {},
  ): CfnTemplate => ({
    Resources: {
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'shard-control-local-convergence' } },
      T: {
        Type: 'AWS::DynamoDB::Table',
        Properties: { TableName: 'shard-control-local', KeySchema: [], AttributeDefinitions: [] },
      },
      F: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'shard-control-local-x',
          Handler: 'index.handler',
          Environment: { Variables: env },
        },
        Metadata: { 'aws:asset:path': 'asset.abc' },
      },
      ...extra,
    },
  });
  const derive = (t: CfnTemplate) => deriveTopology(t, { sqsEndpoint: SQS, assemblyDir: '/asm' });

  it('resolves Ref, GetAtt, Join and Sub', () => {
    const topo = derive(
      template({
        A: { Ref: 'Q' },
        B: { 'Fn::GetAtt': ['Q', 'Arn'] },
        C: { Ref: 'T' },
        D: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':x:', { Ref: 'AWS::Region' }]] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        E: { 'Fn::Sub': '${AWS::AccountId}/${Q.QueueName}' },
        F: { 'Fn::GetAtt': ['T', 'Arn'] },
      }),
    );
    const fn = topo.functions[0]!;
    expect(fn.env).toEqual({
      A: `${SQS}/000000000000/convergence`,
      B: 'arn:aws:sqs:us-east-1:000000000000:convergence',
      C: 'shard-control-local',
      D: 'arn:aws:x:us-east-1',
      E: '000000000000/convergence',
      F: 'arn:aws:dynamodb:us-east-1:000000000000:table/shard-control-local',
    });
    expect(fn.bundleDir).toBe(join('/asm', 'asset.abc'));
    expect(fn.name).toBe('x');
    expect(fn.timeoutSeconds).toBe(3);
  });

  it('throws a clear error on an intrinsic it does not know', () => {
    expect(() => derive(template({ A: { 'Fn::ImportValue': 'shared-vpc' } }))).toThrow(
      /F\.Environment\.A: unsupported intrinsic \{"Fn::ImportValue"/,
    );
    expect(() => derive(template({ A: { Ref: 'Nope' } }))).toThrow(/unknown logical id Nope/);
    expect(() =>
      derive(template({ A: { Ref: 'R' } }, { R: { Type: 'AWS::IAM::Role', Properties: {} } })),
    ).toThrow(/cannot resolve \{Ref: R\} \(AWS::IAM::Role\)/);
  });

  it('maps a Scheduler schedule to its target function', () => {
    const topo = derive(
      template(
        {},
        {
          S: {
            Type: 'AWS::Scheduler::Schedule',
            Properties: {
              Name: 'shard-control-local-reconcile',
              ScheduleExpression: 'rate(5 minutes)',
              State: 'ENABLED',
              Target: {
                Arn: { 'Fn::GetAtt': ['F', 'Arn'] },
                RoleArn: 'arn:aws:iam::000000000000:role/x',
                DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['Q', 'Arn'] } },
              },
            },
          },
        },
      ),
    );
    expect(topo.schedules).toEqual([
      {
        logicalId: 'S',
        name: 'reconcile',
        functionName: 'x',
        expression: 'rate(5 minutes)',
        rateSeconds: 300,
        enabled: true,
        dlq: 'convergence',
      },
    ]);
  });
});
