// Reads the synthesized CDK template of the `local` stage and turns it into the local topology:
// the same queues, table, parameters, functions and event source mappings that get deployed,
// with CloudFormation intrinsics resolved to local values (emulator URLs, fake ARNs).
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { LAMBDA_BUNDLE } from '../../infra/bundling.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { LOCAL } from '../defaults.ts';
import { cachedSynth, type SynthInputs, synthCacheKey } from './synth-cache.ts';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

export interface Synthesized {
  template: CfnTemplate;
  /** Cloud assembly directory: `aws:asset:path` values are relative to it. */
  assemblyDir: string;
  stackName: string;
  synthMs: number;
  /** Whether the assembly was reused from an earlier start (undefined: caching was off). */
  cacheHit?: boolean;
}

export interface LocalQueue {
  logicalId: string;
  /** Contract name, e.g. `shard-creation` (the AWS name minus `shard-control-local-`). */
  name: string;
  awsName: string;
  url: string;
  arn: string;
  /** CreateQueue attributes, RedrivePolicy pointing at the local DLQ. */
  attributes: Record<string, string>;
  /** Contract name of this queue's DLQ, if it has a redrive policy. */
  dlq?: string;
  maxReceiveCount?: number;
}

export interface LocalTable {
  logicalId: string;
  name: string;
  keySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  attributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  globalSecondaryIndexes: {
    IndexName: string;
    KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
    Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
  }[];
  ttlAttribute?: string;
}

export interface LocalParameter {
  logicalId: string;
  name: string;
  type: 'String' | 'StringList';
  value: string;
}

export interface LocalFunction {
  logicalId: string;
  /** Short name, e.g. `shard-creation` (directory under `functions/`). */
  name: string;
  /** Physical name, e.g. `shard-control-local-shard-creation`. */
  functionName: string;
  arn: string;
  /** Absolute path of the bundled code (asset directory), when the template has one. */
  bundleDir?: string;
  handler: string;
  timeoutSeconds: number;
  memorySize: number;
  /** Environment from the template, intrinsics resolved to local values. */
  env: Record<string, string>;
}

export interface LocalMapping {
  logicalId: string;
  /** Short function name. */
  functionName: string;
  queueName: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency; Lambda's default without one is far higher. */
  maxConcurrency: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
}

export interface LocalSchedule {
  logicalId: string;
  name: string;
  /** Short function name of the target. */
  functionName: string;
  expression: string;
  /** Interval the expression means, when it is a `rate(...)`. */
  rateSeconds?: number;
  input?: string;
  enabled: boolean;
  /** Contract name of the target's dead-letter queue, if any. */
  dlq?: string;
}

export interface Topology {
  stackName: string;
  queues: LocalQueue[];
  tables: LocalTable[];
  parameters: LocalParameter[];
  functions: LocalFunction[];
  mappings: LocalMapping[];
  schedules: LocalSchedule[];
}

/** Without a cap, the local pool must still be bounded: this mirrors "some" concurrency. */
export const DEFAULT_LOCAL_CONCURRENCY = 5;
const STACK_PREFIX = `shard-control-${LOCAL.stage}-`;
const MARKER_KEY = 'shard-control';

let cached: Promise<Synthesized> | undefined;

/** Everything the synthesized template and bundles depend on (besides this code). */
export function synthInputs(root: string = PROJECT_ROOT): SynthInputs {
  return {
    root,
    dirs: ['infra', 'functions', 'shared'],
    files: ['package-lock.json', 'cdk.json', 'tsconfig.json'],
    extra: { stage: LOCAL.stage, bundle: LAMBDA_BUNDLE },
  };
}

/** Where synthesized assemblies are reused between starts (gitignored). */
export const SYNTH_CACHE_DIR = join(PROJECT_ROOT, '.local', 'synth');

async function synthesize(outdir: string): Promise<{ stackName: string; templateFile: string }> {
  const { buildApp } = await import('../../infra/app.ts');
  // Never deployed to CloudFormation: its validation is the dev stack's (npx cdk synth).
  const { app, stack } = buildApp({ stage: LOCAL.stage, outdir, cloudFormationValidation: false });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  return { stackName: stack.stackName, templateFile: artifact.templateFile };
}

function readSynthesized(
  assemblyDir: string,
  meta: { stackName: string; templateFile: string },
  started: number,
  cacheHit?: boolean,
): Synthesized {
  const template = JSON.parse(
    readFileSync(join(assemblyDir, meta.templateFile), 'utf8'),
  ) as CfnTemplate;
  return {
    template,
    assemblyDir,
    stackName: meta.stackName,
    synthMs: Date.now() - started,
    ...(cacheHit === undefined ? {} : { cacheHit }),
  };
}

/**
 * Synthesizes the CDK app for stage `local` in-process (bundling every function with esbuild),
 * once per process: later calls return the same result. Without `outdir`, the assembly is
 * reused from `cacheDir` (default SYNTH_CACHE_DIR) when no input changed since it was made.
 */
export function synthesizeLocal(
  opts: { outdir?: string; cacheDir?: string } = {},
): Promise<Synthesized> {
  cached ??= (async () => {
    const started = Date.now();
    const { outdir } = opts;
    if (outdir) return readSynthesized(outdir, await synthesize(outdir), started);
    const key = synthCacheKey(synthInputs());
    const entry = await cachedSynth(opts.cacheDir ?? SYNTH_CACHE_DIR, key, synthesize);
    return readSynthesized(entry.dir, entry.meta, started, entry.hit);
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

export interface ResolveContext {
  /** SQS endpoint, e.g. `http://127.0.0.1:9324`. */
  sqsEndpoint: string;
  region?: string;
  accountId?: string;
  stackName?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const marker = (r: CfnResource) => {
  const m = r.Metadata?.[MARKER_KEY];
  return isObject(m) ? (m as { kind?: string; name?: string }) : undefined;
};

const localName = (awsName: string) =>
  awsName.startsWith(STACK_PREFIX) ? awsName.slice(STACK_PREFIX.length) : awsName;

/** Turns a template into the local topology; throws on anything it cannot map faithfully. */
export function deriveTopology(
  template: CfnTemplate,
  opts: ResolveContext & {
    assemblyDir: string;
    /** Replaces the template's maxReceiveCount in every redrive policy (tests only). */
    maxReceiveCount?: number;
  },
): Topology {
  const mrc = opts.maxReceiveCount;
  if (mrc !== undefined && !(Number.isInteger(mrc) && mrc >= 1 && mrc <= 1000)) {
    throw new Error(`maxReceiveCount must be an integer in 1..1000 (SQS), got ${mrc}`);
  }
  const region = opts.region ?? LOCAL.region;
  const account = opts.accountId ?? LOCAL.accountId;
  const stackName = opts.stackName ?? `shard-control-${LOCAL.stage}`;
  const resources = template.Resources;
  const sqsBase = opts.sqsEndpoint.replace(/\/+$/, '');

  const queueNameOf = (id: string, r: CfnResource) => {
    const awsName = r.Properties?.QueueName;
    return typeof awsName === 'string' ? awsName : (marker(r)?.name ?? id);
  };
  const fnPhysicalName = (id: string, r: CfnResource) => {
    const n = r.Properties?.FunctionName;
    return typeof n === 'string' ? n : `${stackName}-${id}`;
  };
  const fnShortName = (id: string, r: CfnResource) => {
    const m = marker(r);
    if (m?.kind === 'function' && m.name) return m.name;
    return localName(fnPhysicalName(id, r));
  };
  const resource = (id: string, what: string) => {
    const r = resources[id];
    if (!r) throw new Error(`${what}: unknown logical id ${id}`);
    return r;
  };

  const ref = (id: string, where: string): string => {
    switch (id) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return account;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
    }
    const r = resource(id, where);
    switch (r.Type) {
      case 'AWS::SQS::Queue':
        return `${sqsBase}/${account}/${localName(queueNameOf(id, r))}`;
      case 'AWS::DynamoDB::Table': {
        const name = r.Properties?.TableName;
        if (typeof name !== 'string') throw new Error(`${where}: table ${id} has no TableName`);
        return name;
      }
      case 'AWS::Lambda::Function':
        return fnPhysicalName(id, r);
      case 'AWS::SSM::Parameter': {
        const name = r.Properties?.Name;
        if (typeof name !== 'string') throw new Error(`${where}: parameter ${id} has no Name`);
        return name;
      }
    }
    throw new Error(`${where}: cannot resolve {Ref: ${id}} (${r.Type}) locally`);
  };

  const getAtt = (id: string, attr: string, where: string): string => {
    const r = resource(id, where);
    if (r.Type === 'AWS::SQS::Queue') {
      const name = localName(queueNameOf(id, r));
      if (attr === 'Arn') return `arn:aws:sqs:${region}:${account}:${name}`;
      if (attr === 'QueueName') return name;
      if (attr === 'QueueUrl') return `${sqsBase}/${account}/${name}`;
    }
    if (r.Type === 'AWS::DynamoDB::Table' && attr === 'Arn') {
      return `arn:aws:dynamodb:${region}:${account}:table/${ref(id, where)}`;
    }
    if (r.Type === 'AWS::Lambda::Function' && attr === 'Arn') {
      return `arn:aws:lambda:${region}:${account}:function:${fnPhysicalName(id, r)}`;
    }
    throw new Error(`${where}: cannot resolve {Fn::GetAtt: [${id}, ${attr}]} (${r.Type}) locally`);
  };

  const resolve = (value: unknown, where: string): string => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (isObject(value)) {
      const keys = Object.keys(value);
      const key = keys[0];
      const arg = key === undefined ? undefined : value[key];
      if (keys.length === 1 && key === 'Ref' && typeof arg === 'string') return ref(arg, where);
      if (keys.length === 1 && key === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        if (typeof id === 'string' && typeof attr === 'string') return getAtt(id, attr, where);
      }
      if (keys.length === 1 && key === 'Fn::Join' && Array.isArray(arg)) {
        const [sep, parts] = arg as [unknown, unknown];
        if (typeof sep === 'string' && Array.isArray(parts)) {
          return parts.map((p) => resolve(p, where)).join(sep);
        }
      }
      if (keys.length === 1 && key === 'Fn::Select' && Array.isArray(arg)) {
        const [index, list] = arg as [unknown, unknown];
        if (Array.isArray(list)) {
          const picked = list[Number(index)];
          if (picked !== undefined) return resolve(picked, where);
        }
      }
      if (keys.length === 1 && key === 'Fn::Sub') {
        const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [unknown, unknown];
        if (typeof text === 'string' && (vars === undefined || isObject(vars))) {
          return text.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
            if (vars && name in vars) return resolve(vars[name], where);
            const [id, attr] = name.split('.');
            return attr ? getAtt(id!, attr, where) : ref(name, where);
          });
        }
      }
    }
    throw new Error(`${where}: unsupported intrinsic ${JSON.stringify(value).slice(0, 200)}`);
  };

  const entries = Object.entries(resources);
  const ofType = (type: string) => entries.filter(([, r]) => r.Type === type);
  const num = (v: unknown, fallback: number) => (v === undefined ? fallback : Number(v));

  const queues: LocalQueue[] = ofType('AWS::SQS::Queue').map(([id, r]) => {
    const p = r.Properties ?? {};
    const name = localName(queueNameOf(id, r));
    const attributes: Record<string, string> = {};
    for (const key of [
      'VisibilityTimeout',
      'MessageRetentionPeriod',
      'DelaySeconds',
      'MaximumMessageSize',
      'ReceiveMessageWaitTimeSeconds',
    ]) {
      if (p[key] !== undefined) attributes[key] = resolve(p[key], `${id}.${key}`);
    }
    let dlq: string | undefined;
    let maxReceiveCount: number | undefined;
    if (p.RedrivePolicy !== undefined) {
      const rp = p.RedrivePolicy as Record<string, unknown>;
      const target = resolve(rp.deadLetterTargetArn, `${id}.RedrivePolicy`);
      dlq = target.split(':').pop();
      maxReceiveCount = opts.maxReceiveCount ?? Number(rp.maxReceiveCount);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount });
    }
    return {
      logicalId: id,
      name,
      awsName: queueNameOf(id, r),
      url: `${sqsBase}/${account}/${name}`,
      arn: `arn:aws:sqs:${region}:${account}:${name}`,
      attributes,
      ...(dlq ? { dlq, maxReceiveCount } : {}),
    };
  });
  // DLQs first: a redrive policy may only name a queue that exists.
  queues.sort((a, b) => Number(!!a.dlq) - Number(!!b.dlq));

  const tables: LocalTable[] = ofType('AWS::DynamoDB::Table').map(([id, r]) => {
    const p = r.Properties ?? {};
    const ttl = p.TimeToLiveSpecification as
      | { AttributeName?: string; Enabled?: boolean }
      | undefined;
    return {
      logicalId: id,
      name: ref(id, id),
      keySchema: p.KeySchema as LocalTable['keySchema'],
      attributeDefinitions: p.AttributeDefinitions as LocalTable['attributeDefinitions'],
      globalSecondaryIndexes: (
        (p.GlobalSecondaryIndexes ?? []) as LocalTable['globalSecondaryIndexes']
      ).map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection })),
      ...(ttl?.Enabled && ttl.AttributeName ? { ttlAttribute: ttl.AttributeName } : {}),
    };
  });

  const parameters: LocalParameter[] = ofType('AWS::SSM::Parameter').map(([id, r]) => {
    const p = r.Properties ?? {};
    const type = resolve(p.Type, `${id}.Type`);
    if (type !== 'String' && type !== 'StringList') {
      throw new Error(`${id}: unsupported parameter type ${type}`);
    }
    return { logicalId: id, name: ref(id, id), type, value: resolve(p.Value, `${id}.Value`) };
  });

  const functions: LocalFunction[] = ofType('AWS::Lambda::Function').map(([id, r]) => {
    const p = r.Properties ?? {};
    const functionName = fnPhysicalName(id, r);
    const vars = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {}) as Record<string, unknown>;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) env[k] = resolve(v, `${id}.Environment.${k}`);
    const assetPath = r.Metadata?.['aws:asset:path'];
    return {
      logicalId: id,
      name: fnShortName(id, r),
      functionName,
      arn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
      ...(typeof assetPath === 'string'
        ? { bundleDir: isAbsolute(assetPath) ? assetPath : join(opts.assemblyDir, assetPath) }
        : {}),
      handler: typeof p.Handler === 'string' ? p.Handler : 'index.handler',
      timeoutSeconds: num(p.Timeout, 3),
      memorySize: num(p.MemorySize, 128),
      env,
    };
  });
  const fnByLogicalId = (logicalId: string, where: string) => {
    const f = functions.find((x) => x.logicalId === logicalId);
    if (!f) throw new Error(`${where}: ${logicalId} is not a function of this template`);
    return f;
  };
  const fnByReference = (value: unknown, where: string) => {
    // FunctionName / Target.Arn: {Ref: Fn} or {Fn::GetAtt: [Fn, Arn]} in CDK output.
    if (isObject(value) && typeof value.Ref === 'string') return fnByLogicalId(value.Ref, where);
    const att = isObject(value) ? value['Fn::GetAtt'] : undefined;
    if (Array.isArray(att) && typeof att[0] === 'string') return fnByLogicalId(att[0], where);
    const name = resolve(value, where);
    const f = functions.find((x) => x.functionName === name || x.arn === name);
    if (!f) throw new Error(`${where}: function ${name} is not in this template`);
    return f;
  };

  const mappings: LocalMapping[] = ofType('AWS::Lambda::EventSourceMapping').map(([id, r]) => {
    const p = r.Properties ?? {};
    const source = resolve(p.EventSourceArn, `${id}.EventSourceArn`);
    if (!source.startsWith('arn:aws:sqs:')) {
      throw new Error(`${id}: only SQS event sources run locally (got ${source})`);
    }
    const scaling = p.ScalingConfig as { MaximumConcurrency?: number } | undefined;
    return {
      logicalId: id,
      functionName: fnByReference(p.FunctionName, `${id}.FunctionName`).name,
      queueName: source.split(':').pop()!,
      batchSize: num(p.BatchSize, 10),
      maxBatchingWindowSeconds: num(p.MaximumBatchingWindowInSeconds, 0),
      maxConcurrency: num(scaling?.MaximumConcurrency, DEFAULT_LOCAL_CONCURRENCY),
      reportBatchItemFailures: ((p.FunctionResponseTypes ?? []) as string[]).includes(
        'ReportBatchItemFailures',
      ),
      enabled: p.Enabled === undefined ? true : p.Enabled === true || p.Enabled === 'true',
    };
  });

  const schedules: LocalSchedule[] = ofType('AWS::Scheduler::Schedule').map(([id, r]) => {
    const p = r.Properties ?? {};
    const target = (p.Target ?? {}) as Record<string, unknown>;
    const expression = resolve(p.ScheduleExpression, `${id}.ScheduleExpression`);
    const dlqArn = (target.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn;
    const state = p.State === undefined ? 'ENABLED' : resolve(p.State, `${id}.State`);
    return {
      logicalId: id,
      name: typeof p.Name === 'string' ? localName(p.Name) : id,
      functionName: fnByReference(target.Arn, `${id}.Target.Arn`).name,
      expression,
      ...rateOf(expression),
      ...(target.Input !== undefined ? { input: resolve(target.Input, `${id}.Target.Input`) } : {}),
      enabled: state === 'ENABLED',
      ...(dlqArn !== undefined
        ? { dlq: resolve(dlqArn, `${id}.Target.DeadLetterConfig`).split(':').pop() }
        : {}),
    };
  });

  return { stackName, queues, tables, parameters, functions, mappings, schedules };
}

function rateOf(expression: string): { rateSeconds?: number } {
  const m = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) return {};
  const unit = m[2]!.startsWith('minute') ? 60 : m[2]!.startsWith('hour') ? 3600 : 86_400;
  return { rateSeconds: Number(m[1]) * unit };
}
