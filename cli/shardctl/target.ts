// Where shardctl points: a deployed stage in AWS (credentials and region from the usual AWS
// environment), or the local stack (`--local`, endpoints of README "Local stack").
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { LOCAL } from '../../local/defaults.ts';
import { physicalName, tableName } from '../../shared/contracts/names.ts';

export interface Target {
  stage: string;
  local: boolean;
  sqs: SQSClient;
  ssm: SSMClient;
  dynamodb: DynamoDBClient;
  scheduler: SchedulerClient;
  tableName: string;
  /** The schedule that runs reconciliation sweeps. */
  scheduleName: string;
  queueUrl(name: string): Promise<string>;
}

export function createTarget(options: {
  stage?: string;
  local?: boolean;
  scheduleName?: string;
}): Target {
  const local = options.local === true || options.stage === LOCAL.stage;
  const stage = local ? LOCAL.stage : (options.stage ?? process.env.STAGE ?? '');
  if (!stage) throw new Error('say which stage: --stage <name>, STAGE=<name>, or --local');
  const localConfig = (port: number) => ({
    endpoint: `http://127.0.0.1:${port}`,
    region: LOCAL.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const sqs = new SQSClient(
    local ? localConfig(Number(process.env.SQS_PORT ?? LOCAL.ports.sqs)) : {},
  );
  const urls = new Map<string, string>();
  return {
    stage,
    local,
    sqs,
    ssm: new SSMClient(local ? localConfig(Number(process.env.SSM_PORT ?? LOCAL.ports.ssm)) : {}),
    dynamodb: new DynamoDBClient(
      local ? localConfig(Number(process.env.DYNAMODB_PORT ?? LOCAL.ports.dynamodb)) : {},
    ),
    scheduler: new SchedulerClient({}),
    tableName: tableName(stage),
    // The name ReconcileSchedule gives the schedule (infra/constructs/reconcile-schedule.ts).
    scheduleName: options.scheduleName ?? physicalName(stage, 'reconcile-sweep'),
    async queueUrl(name) {
      const cached = urls.get(name);
      if (cached) return cached;
      const QueueName = local ? name : physicalName(stage, name);
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
      if (!QueueUrl) throw new Error(`queue ${QueueName} not found`);
      urls.set(name, QueueUrl);
      return QueueUrl;
    },
  };
}
