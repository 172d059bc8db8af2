// Creates the template's queues, tables and parameters in the emulators through the real AWS
// SDK (the same API calls CloudFormation would make), then preloads the local-only values:
// secrets the operator would create by hand in AWS, and the local Citrus URL.
import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { PARAMETERS, ssmPrefix } from '../../shared/contracts/names.ts';
import { LOCAL } from '../defaults.ts';
import type { Topology } from './template.ts';

export interface LocalParameterValues {
  citrusUrl: string;
  citrusApiKey: string;
  nodeSigningKeys: string;
  orphanGraceSeconds: string;
}

/** Local values, from their env vars (README "Local stack") or their local defaults. */
export function localParameterValues(
  citrusUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): LocalParameterValues {
  return {
    citrusUrl,
    citrusApiKey: env.CITRUS_API_KEY || LOCAL.citrusApiKey,
    nodeSigningKeys: env.NODE_AGENT_SIGNING_KEYS || LOCAL.nodeSigningKeys,
    orphanGraceSeconds: env.ORPHAN_GRACE_SECONDS || '30',
  };
}

export async function createQueues(sqs: SQSClient, topology: Topology): Promise<void> {
  // `topology.queues` lists DLQs first: a redrive policy must name an existing queue.
  for (const q of topology.queues) {
    await sqs.send(new CreateQueueCommand({ QueueName: q.name, Attributes: q.attributes }));
  }
}

export async function createTables(ddb: DynamoDBClient, topology: Topology): Promise<void> {
  for (const t of topology.tables) {
    await ddb.send(
      new CreateTableCommand({
        TableName: t.name,
        KeySchema: t.keySchema,
        AttributeDefinitions: t.attributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        ...(t.globalSecondaryIndexes.length > 0
          ? { GlobalSecondaryIndexes: t.globalSecondaryIndexes }
          : {}),
      }),
    );
    if (t.ttlAttribute) {
      await ddb.send(
        new UpdateTimeToLiveCommand({
          TableName: t.name,
          TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

export async function createParameters(
  ssm: SSMClient,
  topology: Topology,
  values: LocalParameterValues,
): Promise<void> {
  for (const p of topology.parameters) {
    await ssm.send(
      new PutParameterCommand({ Name: p.name, Value: p.value, Type: p.type, Overwrite: true }),
    );
  }
  const prefix = ssmPrefix(LOCAL.stage);
  const local: [{ name: string; secure: boolean }, string][] = [
    [PARAMETERS.citrusUrl, values.citrusUrl],
    [PARAMETERS.citrusApiKey, values.citrusApiKey],
    [PARAMETERS.nodeSigningKeys, values.nodeSigningKeys],
    [PARAMETERS.orphanGraceSeconds, values.orphanGraceSeconds],
  ];
  for (const [param, value] of local) {
    await ssm.send(
      new PutParameterCommand({
        Name: `${prefix}/${param.name}`,
        Value: value,
        Type: param.secure ? 'SecureString' : 'String',
        Overwrite: true,
      }),
    );
  }
}

export async function createResources(
  clients: { sqs: SQSClient; ddb: DynamoDBClient; ssm: SSMClient },
  topology: Topology,
  values: LocalParameterValues,
): Promise<void> {
  await Promise.all([
    createQueues(clients.sqs, topology),
    createTables(clients.ddb, topology),
    createParameters(clients.ssm, topology, values),
  ]);
}
