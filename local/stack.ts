// The whole control plane on one machine: emulators (SQS, DynamoDB, SSM), simulators (Citrus,
// node agents), the synthesized CDK template's resources, and the deployed function code run
// in Lambda-like worker pools fed by SQS event source mapping pollers. Handlers run unchanged:
// only endpoints (AWS_ENDPOINT_URL_*) and credentials differ from AWS.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { withoutSdkLogger } from '../shared/adapters/sdk.ts';
import { type Message, parseMessage, QUEUE_OF_TYPE } from '../shared/contracts/messages.ts';
import { PARAMETERS, physicalName, ssmPrefix } from '../shared/contracts/names.ts';
import { SigningKeys } from '../shared/contracts/signing.ts';
import { LOCAL } from './defaults.ts';
import {
  type DynamoDbEmulator,
  type DynamoDbThrottling,
  startDynamoDbEmulator,
} from './emulators/dynamodb.ts';
import { startLambdaEmulator } from './emulators/lambda.ts';
import { startSchedulerEmulator } from './emulators/scheduler.ts';
// Only the thread starter: fauxqs and dynalite load on their threads, not at start-up here.
import { type RemoteEmulator, startEmulatorThread } from './emulators/threaded.ts';
import { SqsPoller } from './runtime/event-source.ts';
import { type InvokeResult, LambdaPool, REPO_ROOT, resolveEntry } from './runtime/lambda-pool.ts';
import { createResources, localParameterValues } from './runtime/resources.ts';
import { intervalFromEnv, LocalScheduler } from './runtime/scheduler.ts';
import { deriveTopology, synthesizeLocal, type Topology } from './runtime/template.ts';
import { type Faults, faultsFromEnv } from './simulators/faults.ts';
import { type Fleet, startFleet } from './simulators/fleet.ts';
import {
  type ManagementServerSimulator,
  startManagementServer,
} from './simulators/management-server.ts';

export type PortName =
  | 'sqs'
  | 'dynamodb'
  | 'ssm'
  | 'scheduler'
  | 'lambda'
  | 'citrus'
  | 'source'
  | 'firstNode';

/** Env vars that move the local stack's default ports. */
export const PORT_ENV: Record<PortName, string> = {
  sqs: 'SQS_PORT',
  dynamodb: 'DYNAMODB_PORT',
  ssm: 'SSM_PORT',
  scheduler: 'SCHEDULER_PORT',
  lambda: 'LAMBDA_PORT',
  citrus: 'CITRUS_PORT',
  source: 'SOURCE_PORT',
  firstNode: 'NODE_BASE_PORT',
};

/** Every port ephemeral: tests and benchmarks never collide with `npm start` or each other. */
export const EPHEMERAL_PORTS = Object.fromEntries(
  Object.keys(PORT_ENV).map((name) => [name, 0]),
) as Record<PortName, number>;

/** The scheduled function that compares the management server's listing with our state. */
export const SOURCE_SYNC_FUNCTION = 'source-sync';

export interface LocalStackOptions {
  /** 0 = ephemeral port (tests). Unset: env var (PORT_ENV), then the default of `LOCAL.ports`. */
  ports?: Partial<Record<PortName, number>>;
  /** External Citrus: no simulators are started. Default: env CITRUS_SERVER_URL. */
  citrusServerUrl?: string;
  fleet?: { shards?: number; nodesPerShard?: number; nodeFaults?: Faults; citrusFaults?: Faults };
  /** 'pretty': function logs to stdout, prefixed; 'quiet': appended to `logFile`. */
  log?: 'pretty' | 'quiet';
  logFile?: string;
  /** 'bundle' runs the CDK bundles (what Lambda runs); 'ts' the handler sources via tsx. */
  source?: 'bundle' | 'ts';
  /** Long-poll wait of the event source pollers (seconds). */
  pollWaitSeconds?: number;
  /** Sweep interval; default env RECONCILE_INTERVAL_SECONDS or 10. */
  reconcileIntervalSeconds?: number;
  /**
   * External management server: the simulator is not started. Default: env SOURCE_SERVER_URL.
   * Without either, and with an external Citrus, source reconciliation is off.
   */
  sourceServerUrl?: string;
  /** Source-sync interval; default env SOURCE_SYNC_INTERVAL_SECONDS or 10. */
  sourceSyncIntervalSeconds?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * Extra environment for every function sandbox, applied last (e.g. `RETRY_BASE_SECONDS` so
   * that tests see redeliveries within seconds). `env` above configures the stack, not these.
   */
  functionEnv?: Record<string, string>;
  /**
   * Tests only: every queue dead-letters after this many receives instead of the template's
   * count, which the retry ladder stretches over hours (e.g. to watch a message reach the DLQ).
   */
  maxReceiveCount?: number;
  /**
   * Tests only: every source queue's visibility timeout, instead of 6x its function's timeout,
   * so that records of a crashed invocation come back within a test's time.
   */
  visibilityTimeoutSeconds?: number;
  /**
   * Throttles a seeded share of DynamoDB item calls from the start (fault injection; rate 0 for
   * none yet). Only with it can `setDynamoDbThrottling` change the share while the stack runs.
   */
  dynamoDbThrottling?: DynamoDbThrottling;
}

export interface LocalStack {
  endpoints: {
    sqs: string;
    dynamodb: string;
    ssm: string;
    /** EventBridge Scheduler's Get/UpdateSchedule: pausing the local schedule. */
    scheduler: string;
    /** Lambda's Invoke: running a local function once. */
    lambda: string;
    citrus: string;
    nodes: string[];
    /** The management server's listing API; absent when source reconciliation is off. */
    source?: string;
  };
  /** Local queue name -> URL (source queues and DLQs). */
  queues: Record<string, string>;
  tableName: string;
  topology: Topology;
  fleet?: Fleet;
  /** The management server simulator, when the stack started one. */
  managementServer?: ManagementServerSimulator;
  sqs: SQSClient;
  ddb: DynamoDBClient;
  ssm: SSMClient;
  pools: ReadonlyMap<string, LambdaPool>;
  pollers: readonly SqsPoller[];
  scheduler?: LocalScheduler;
  /** Runs source-sync on its own timer, when source reconciliation is on. */
  sourceScheduler?: LocalScheduler;
  /** `synthCached`: the template and bundles were reused from an earlier start. */
  timings: { synthMs: number; startMs: number; synthCached?: boolean };
  /** Sends a contract message to its queue (validated first, like a well-behaved producer). */
  sendMessage(msg: Message): Promise<string>;
  /** Sends any body (e.g. poison messages in tests). */
  sendRaw(
    queue: string,
    body: string,
    attributes?: Record<string, MessageAttributeValue>,
  ): Promise<string>;
  /** Invokes a function directly (like `aws lambda invoke`). */
  invoke(functionName: string, event: unknown): Promise<InvokeResult>;
  /** Fault injection: throttles a seeded share of DynamoDB item calls; undefined stops it. */
  setDynamoDbThrottling(throttling: DynamoDbThrottling | undefined): void;
  /** DynamoDB calls answered with a throttling error so far. */
  dynamoDbThrottledCalls(): number;
  /** Fault injection: the function's next invocation crashes `afterMs` into it. */
  killNextInvocation(functionName: string, afterMs?: number): void;
  /** Resolves when every source queue is empty (visible + in flight) and nothing runs. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function portOf(name: PortName, opts: LocalStackOptions, env: NodeJS.ProcessEnv): number {
  const explicit = opts.ports?.[name];
  if (explicit !== undefined) return explicit;
  const raw = env[PORT_ENV[name]];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65_535) {
      throw new Error(`${PORT_ENV[name]} must be a port number (got '${raw}')`);
    }
    return n;
  }
  return LOCAL.ports[name];
}

/** Turns Powertools JSON log lines into one readable line each. */
export function prettyLogLine(fn: string, line: string): string | undefined {
  const prefix = fn.padEnd(20).slice(0, 20);
  if (!line.startsWith('{')) return `${prefix} │ ${line}`;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${prefix} │ ${line}`;
  }
  // EMF metric blobs are for CloudWatch, not for humans.
  if ('_aws' in entry) return undefined;
  const {
    level,
    message,
    timestamp: _t,
    service: _s,
    cold_start: _c,
    xray_trace_id: _x,
    ...rest
  } = entry;
  for (const key of [
    'function_name',
    'function_memory_size',
    'function_arn',
    'function_request_id',
    'sampling_rate',
  ]) {
    delete rest[key];
  }
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${prefix} │ ${String(level ?? 'LOG').padEnd(5)} ${String(message ?? '')}${extra}`;
}

type Emulators = Record<'sqs' | 'ssm', RemoteEmulator> & {
  dynamodb: RemoteEmulator & Partial<Pick<DynamoDbEmulator, 'setThrottling' | 'throttled'>>;
};

/**
 * Starts SQS (with SSM, read at cold starts only) and DynamoDB each on a worker thread, as the
 * remote services they stand for; each registers its stop in `cleanups`, even if another fails.
 */
async function startEmulators(
  opts: LocalStackOptions,
  env: NodeJS.ProcessEnv,
  cleanups: Array<() => Promise<void> | void>,
): Promise<Emulators> {
  const port = (name: PortName) => ({ port: portOf(name, opts, env) });
  const started = await Promise.allSettled([
    startEmulatorThread([
      { kind: 'sqs', ...port('sqs') },
      { kind: 'ssm', ...port('ssm') },
    ]),
    // Fault injection changes DynamoDB's throttling while the stack runs: that emulator then
    // stays on this thread, where the setter can reach it.
    opts.dynamoDbThrottling
      ? startDynamoDbEmulator({ ...port('dynamodb'), throttling: opts.dynamoDbThrottling }).then(
          (emulator) => [emulator],
        )
      : startEmulatorThread([{ kind: 'dynamodb', ...port('dynamodb') }]),
  ]);
  for (const e of started) {
    if (e.status === 'fulfilled') for (const emu of e.value) cleanups.push(() => emu.stop());
  }
  const failed = started.find((e) => e.status === 'rejected');
  if (failed)
    throw new Error(`starting the emulators failed: ${String(failed.reason)}`, {
      cause: failed.reason,
    });
  const [[sqs, ssm], [dynamodb]] = started.map((e) =>
    e.status === 'fulfilled' ? e.value : [],
  ) as [[RemoteEmulator, RemoteEmulator], [Emulators['dynamodb']]];
  return { sqs, ssm, dynamodb };
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const env = opts.env ?? process.env;
  const citrusServerUrl = opts.citrusServerUrl ?? (env.CITRUS_SERVER_URL || undefined);
  const logMode = opts.log ?? 'pretty';
  const logFile = opts.logFile ?? join(REPO_ROOT, '.local', 'logs', 'local-stack.log');
  if (logMode === 'quiet') mkdirSync(dirname(logFile), { recursive: true });
  const writeLog = (line: string) => {
    if (logMode === 'quiet') appendFileSync(logFile, `${line}\n`);
    else process.stdout.write(`${line}\n`);
  };
  const runtimeLog = (line: string) => writeLog(prettyLogLine('local-stack', line) ?? line);

  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        runtimeLog(`shutdown step failed: ${(err as Error).message}`);
      }
    }
  };

  try {
    const {
      sqs: sqsEmu,
      dynamodb: ddbEmu,
      ssm: ssmEmu,
    } = await startEmulators(opts, env, cleanups);
    const region = LOCAL.region;
    // The pollers' and the producers' client: as lean as the functions' (shared/adapters/sdk.ts).
    const sqs = withoutSdkLogger(
      new SQSClient({
        region,
        endpoint: sqsEmu.url,
        credentials: CREDENTIALS,
        cacheMiddleware: true,
      }),
    );
    const ddb = new DynamoDBClient({ region, endpoint: ddbEmu.url, credentials: CREDENTIALS });
    const ssm = new SSMClient({ region, endpoint: ssmEmu.url, credentials: CREDENTIALS });
    cleanups.push(() => {
      sqs.destroy();
      ddb.destroy();
      ssm.destroy();
    });

    const values = localParameterValues('', env);
    let fleet: Fleet | undefined;
    let citrusUrl = citrusServerUrl;
    if (!citrusUrl) {
      fleet = await startFleet({
        citrusPort: portOf('citrus', opts, env),
        firstNodePort: portOf('firstNode', opts, env),
        shards: opts.fleet?.shards,
        nodesPerShard: opts.fleet?.nodesPerShard,
        apiKey: values.citrusApiKey,
        signingKeys: SigningKeys.parse(JSON.parse(values.nodeSigningKeys)),
        nodeFaults: opts.fleet?.nodeFaults ?? faultsFromEnv('NODE', env),
        citrusFaults: opts.fleet?.citrusFaults ?? faultsFromEnv('CITRUS', env),
      });
      const f = fleet;
      cleanups.push(() => f.stop());
      citrusUrl = fleet.citrus.url;
    }
    values.citrusUrl = citrusUrl;

    // The management server stands beside the local Citrus; an external Citrus comes with its
    // own (SOURCE_SERVER_URL) or none.
    let sourceUrl = opts.sourceServerUrl ?? (env.SOURCE_SERVER_URL || undefined);
    let managementServer: ManagementServerSimulator | undefined;
    if (!sourceUrl && !citrusServerUrl) {
      const server = await startManagementServer({
        port: portOf('source', opts, env),
        token: env.SOURCE_TOKEN || LOCAL.sourceToken,
      });
      managementServer = server;
      cleanups.push(() => server.stop());
      sourceUrl = server.url;
    }

    const synth = await synthesizeLocal();
    const topology = deriveTopology(synth.template, {
      sqsEndpoint: sqsEmu.url,
      assemblyDir: synth.assemblyDir,
      stackName: synth.stackName,
      ...(opts.maxReceiveCount !== undefined ? { maxReceiveCount: opts.maxReceiveCount } : {}),
    });
    if (opts.visibilityTimeoutSeconds !== undefined) {
      for (const q of topology.queues) {
        if (q.dlq) q.attributes.VisibilityTimeout = String(opts.visibilityTimeoutSeconds);
      }
    }
    await createResources({ sqs, ddb, ssm }, topology, values);
    await preloadSourceParameters(ssm, sourceUrl, env);

    // Each sandbox gets the function's own env plus what the Lambda runtime would set.
    const pools = new Map<string, LambdaPool>();
    const source = opts.source ?? 'bundle';
    const funcLog = (fn: string, line: string) => {
      const out = logMode === 'quiet' ? `${fn} ${line}` : prettyLogLine(fn, line);
      if (out !== undefined) writeLog(out);
    };
    for (const fn of topology.functions) {
      const concurrency = Math.max(
        1,
        ...topology.mappings.filter((m) => m.functionName === fn.name).map((m) => m.maxConcurrency),
      );
      const { entry, exportName } = resolveEntry(fn, source);
      pools.set(
        fn.name,
        new LambdaPool(
          {
            name: fn.name,
            functionName: fn.functionName,
            functionArn: fn.arn,
            entry,
            exportName,
            timeoutSeconds: fn.timeoutSeconds,
            memorySize: fn.memorySize,
            env: {
              ...fn.env,
              AWS_REGION: region,
              AWS_DEFAULT_REGION: region,
              AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
              AWS_ENDPOINT_URL_SQS: sqsEmu.url,
              AWS_ENDPOINT_URL_DYNAMODB: ddbEmu.url,
              AWS_ENDPOINT_URL_SSM: ssmEmu.url,
              AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
              AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
              AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
              AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
              AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
              // No X-Ray daemon locally.
              POWERTOOLS_TRACE_ENABLED: 'false',
              // Lambda runs Node 22+; the SDK's Node 20 notice would repeat in every sandbox.
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
              ...opts.functionEnv,
            },
          },
          concurrency,
          funcLog,
        ),
      );
    }
    cleanups.push(async () => {
      await Promise.all([...pools.values()].map((p) => p.stop()));
    });

    const queues: Record<string, string> = {};
    for (const q of topology.queues) queues[q.name] = q.url;
    const queueArn = (name: string) => topology.queues.find((q) => q.name === name)?.arn;

    const pollers = topology.mappings.map((m) => {
      const pool = pools.get(m.functionName)!;
      return new SqsPoller(
        {
          functionName: m.functionName,
          queueName: m.queueName,
          queueUrl: queues[m.queueName]!,
          queueArn: queueArn(m.queueName)!,
          batchSize: m.batchSize,
          maxBatchingWindowSeconds: m.maxBatchingWindowSeconds,
          maxConcurrency: m.maxConcurrency,
          reportBatchItemFailures: m.reportBatchItemFailures,
          enabled: m.enabled,
        },
        {
          sqs,
          region,
          invoke: (event) => pool.invoke(event),
          waitTimeSeconds: opts.pollWaitSeconds ?? 2,
          log: runtimeLog,
        },
      );
    });
    // Stopping the pools first fails in-flight batches (messages stay queued), then drain.
    cleanups.splice(cleanups.length - 1, 0, () =>
      Promise.all(pollers.map((p) => p.drain())).then(() => undefined),
    );
    cleanups.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });

    const invoke = (functionName: string, event: unknown) => {
      const pool = pools.get(functionName);
      if (!pool) throw new Error(`no local function named ${functionName}`);
      return pool.invoke(event);
    };
    const timed = (schedules: typeof topology.schedules, intervalSeconds: number) => {
      const sch = new LocalScheduler(schedules, {
        invoke,
        intervalSeconds,
        sqs,
        queueUrl: (name) => queues[name],
        log: runtimeLog,
      });
      cleanups.push(() => sch.stop());
      return sch;
    };
    // Source sync has its own interval; without a source url it would only skip every run.
    const isSource = (s: (typeof topology.schedules)[number]) =>
      s.functionName === SOURCE_SYNC_FUNCTION;
    const sweeps = topology.schedules.filter((s) => !isSource(s));
    const sourceSchedules = sourceUrl ? topology.schedules.filter(isSource) : [];
    const scheduler = sweeps.length
      ? timed(sweeps, opts.reconcileIntervalSeconds ?? intervalFromEnv(env))
      : undefined;
    const sourceScheduler = sourceSchedules.length
      ? timed(
          sourceSchedules,
          opts.sourceSyncIntervalSeconds ??
            intervalFromEnv({ RECONCILE_INTERVAL_SECONDS: env.SOURCE_SYNC_INTERVAL_SECONDS }),
        )
      : undefined;

    // Operations endpoints: Scheduler (pause/resume) and Lambda (invoke once), as in AWS.
    const schedulerEndpoint = await startSchedulerEmulator({
      port: portOf('scheduler', opts, env),
      schedules: topology.schedules.map((s) => ({
        name: physicalName(LOCAL.stage, s.name),
        aliases: [s.name],
        expression: s.expression,
        targetArn: topology.functions.find((f) => f.name === s.functionName)?.arn ?? '',
        ...(s.input !== undefined ? { input: s.input } : {}),
        state: s.enabled ? 'ENABLED' : 'DISABLED',
      })),
      onStateChange: (name, state) => {
        const short = name.replace(physicalName(LOCAL.stage, ''), '');
        for (const timer of [scheduler, sourceScheduler])
          timer?.setEnabled(short, state === 'ENABLED');
      },
    });
    cleanups.push(() => schedulerEndpoint.stop());
    const lambdaEndpoint = await startLambdaEmulator({
      port: portOf('lambda', opts, env),
      resolve: (name) =>
        topology.functions.find((f) => f.name === name || f.functionName === name)?.name,
      invoke,
    });
    cleanups.push(() => lambdaEndpoint.stop());

    for (const p of pollers) p.start();
    scheduler?.start();
    sourceScheduler?.start();

    const sourceQueues = [...new Set(topology.mappings.map((m) => m.queueName))];
    const busy = async (): Promise<string | undefined> => {
      for (const [name, pool] of pools) if (pool.inFlight > 0) return `${name} running`;
      if ((scheduler?.inFlight ?? 0) + (sourceScheduler?.inFlight ?? 0) > 0)
        return 'a scheduled invocation is running';
      for (const q of sourceQueues) {
        const out = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queues[q],
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        );
        const a = out.Attributes ?? {};
        const n =
          Number(a.ApproximateNumberOfMessages ?? 0) +
          Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
          Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
        if (n > 0) return `${n} message(s) on ${q}`;
      }
      return undefined;
    };

    let stopped = false;
    const stack: LocalStack = {
      endpoints: {
        sqs: sqsEmu.url,
        dynamodb: ddbEmu.url,
        ssm: ssmEmu.url,
        scheduler: schedulerEndpoint.url,
        lambda: lambdaEndpoint.url,
        citrus: citrusUrl,
        nodes: fleet?.nodes.map((n) => n.url) ?? [],
        ...(sourceUrl ? { source: sourceUrl } : {}),
      },
      queues,
      tableName: topology.tables[0]?.name ?? '',
      topology,
      ...(fleet ? { fleet } : {}),
      ...(managementServer ? { managementServer } : {}),
      sqs,
      ddb,
      ssm,
      pools,
      pollers,
      ...(scheduler ? { scheduler } : {}),
      ...(sourceScheduler ? { sourceScheduler } : {}),
      timings: {
        synthMs: synth.synthMs,
        startMs: Date.now() - started,
        ...(synth.cacheHit ? { synthCached: true } : {}),
      },
      async sendMessage(msg) {
        const body = JSON.stringify(msg);
        const parsed = parseMessage(body);
        if (!parsed.ok) throw new Error(`not a valid message: ${parsed.reason}`);
        return stack.sendRaw(QUEUE_OF_TYPE[msg.type], body);
      },
      async sendRaw(queue, body, attributes) {
        const url = queues[queue];
        if (!url) throw new Error(`no local queue named ${queue}`);
        const out = await sqs.send(
          new SendMessageCommand({
            QueueUrl: url,
            MessageBody: body,
            ...(attributes ? { MessageAttributes: attributes } : {}),
          }),
        );
        return out.MessageId!;
      },
      invoke: (functionName, event) => invoke(functionName, event),
      setDynamoDbThrottling: (throttling) => {
        if (!ddbEmu.setThrottling)
          throw new Error('start the stack with dynamoDbThrottling to change it while it runs');
        ddbEmu.setThrottling(throttling);
      },
      dynamoDbThrottledCalls: () => ddbEmu.throttled ?? 0,
      killNextInvocation(functionName, afterMs) {
        const pool = pools.get(functionName);
        if (!pool) throw new Error(`no local function named ${functionName}`);
        pool.killNextInvocation(afterMs);
      },
      async waitForIdle(timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        let idleSeen = 0;
        let reason: string | undefined;
        // Two idle observations in a row: a batch may be between receive and dispatch.
        while (idleSeen < 2) {
          reason = await busy();
          idleSeen = reason ? 0 : idleSeen + 1;
          if (idleSeen >= 2) break;
          if (Date.now() > deadline) {
            throw new Error(`local stack not idle after ${timeoutMs} ms: ${reason ?? 'settling'}`);
          }
          await new Promise((r) => setTimeout(r, 150));
        }
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
    stack.timings.startMs = Date.now() - started;
    return stack;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Local values of the source parameters: the url only when there is a source (absent = off),
 * the token the operator would create, and short full-sync and grace settings for local work.
 */
async function preloadSourceParameters(
  ssm: SSMClient,
  sourceUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const values: Array<[{ name: string; secure: boolean }, string]> = [
    [PARAMETERS.sourceFullSyncEvery, env.SOURCE_FULL_SYNC_EVERY || '3'],
    [PARAMETERS.sourceDeleteGraceSeconds, env.SOURCE_DELETE_GRACE_SECONDS || '30'],
    ...(sourceUrl
      ? ([
          [PARAMETERS.sourceUrl, sourceUrl],
          [PARAMETERS.sourceToken, env.SOURCE_TOKEN || LOCAL.sourceToken],
        ] as Array<[{ name: string; secure: boolean }, string]>)
      : []),
  ];
  for (const [parameter, value] of values) {
    await ssm.send(
      new PutParameterCommand({
        Name: `${ssmPrefix(LOCAL.stage)}/${parameter.name}`,
        Value: value,
        Type: parameter.secure ? 'SecureString' : 'String',
        Overwrite: true,
      }),
    );
  }
}
