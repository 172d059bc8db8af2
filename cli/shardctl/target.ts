// Where shardctl points: a deployed stage in AWS (credentials and region from the usual AWS
// environment, or --profile / --region), or the local stack (`--local`, its default ports or
// the *_PORT variables the local stack reads).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { LOCAL } from '../../local/defaults.ts';
import { physicalName, tableName } from '../../shared/contracts/names.ts';

/** The sweep function and its schedule share this name (infra/constructs/reconcile-schedule.ts). */
export const SWEEP = 'reconcile-sweep';

export interface Target {
  stage: string;
  local: boolean;
  sqs: SQSClient;
  ssm: SSMClient;
  dynamodb: DynamoDBClient;
  scheduler: SchedulerClient;
  lambda: LambdaClient;
  tableName: string;
  /** The schedule that runs reconciliation sweeps. */
  scheduleName: string;
  /** The sweep function (stack output ReconcileSweepFunctionName). */
  sweepFunctionName: string;
  queueUrl(name: string): Promise<string>;
  /** The local service listening on a port, for error messages (local only). */
  localService(port: number): string | undefined;
}

export interface TargetOptions {
  stage?: string;
  local?: boolean;
  scheduleName?: string;
  profile?: string;
  region?: string;
}

/** Local ports, each movable by the env var the local stack reads too. */
const LOCAL_PORTS = {
  sqs: ['SQS_PORT', LOCAL.ports.sqs],
  dynamodb: ['DYNAMODB_PORT', LOCAL.ports.dynamodb],
  ssm: ['SSM_PORT', LOCAL.ports.ssm],
  scheduler: ['SCHEDULER_PORT', LOCAL.ports.scheduler],
  lambda: ['LAMBDA_PORT', LOCAL.ports.lambda],
} as const;
type LocalService = keyof typeof LOCAL_PORTS;

function localPort(service: LocalService): number {
  const [variable, fallback] = LOCAL_PORTS[service];
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535)
    throw new Error(`${variable} must be a port number (got '${raw}')`);
  return port;
}

export function createTarget(options: TargetOptions): Target {
  const local = options.local === true || options.stage === LOCAL.stage;
  const stage = local ? LOCAL.stage : (options.stage ?? process.env.STAGE ?? '');
  if (!stage) throw new Error('say which stage: --stage <name>, STAGE=<name>, or --local');
  const config = (service: LocalService) =>
    local
      ? {
          endpoint: `http://127.0.0.1:${localPort(service)}`,
          region: LOCAL.region,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {
          ...(options.region ? { region: options.region } : {}),
          ...(options.profile ? { profile: options.profile } : {}),
        };
  const sqs = new SQSClient(config('sqs'));
  const urls = new Map<string, string>();
  return {
    stage,
    local,
    sqs,
    ssm: new SSMClient(config('ssm')),
    dynamodb: new DynamoDBClient(config('dynamodb')),
    scheduler: new SchedulerClient(config('scheduler')),
    lambda: new LambdaClient(config('lambda')),
    tableName: tableName(stage),
    scheduleName: options.scheduleName ?? physicalName(stage, SWEEP),
    sweepFunctionName: physicalName(stage, SWEEP),
    async queueUrl(name) {
      const cached = urls.get(name);
      if (cached) return cached;
      const QueueName = local ? name : physicalName(stage, name);
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
      if (!QueueUrl) throw new Error(`queue ${QueueName} not found`);
      urls.set(name, QueueUrl);
      return QueueUrl;
    },
    localService(port) {
      if (!local) return undefined;
      return (Object.keys(LOCAL_PORTS) as LocalService[]).find((s) => localPort(s) === port);
    },
  };
}
