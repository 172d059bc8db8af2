import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { INDEXES, TABLE_KEY } from '../../shared/store/schema.ts';

/** A DynamoDB client for the local emulator (any credentials work there). */
export function localDynamoDb(endpoint: string) {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}

/** Creates the state table with the same keys and GSIs as the CDK stack. */
export async function createStateTable(client: DynamoDBClient, tableName: string) {
  const indexes = Object.values(INDEXES);
  const attributes = new Set([
    TABLE_KEY.partition,
    TABLE_KEY.sort,
    ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]);
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE_KEY.partition, KeyType: 'HASH' },
        { AttributeName: TABLE_KEY.sort, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [...attributes].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      GlobalSecondaryIndexes: indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection:
          'projection' in i
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...i.projection] }
            : { ProjectionType: 'ALL' },
      })),
    }),
  );
  // CREATING -> ACTIVE takes a tick even on the emulator, as it takes seconds on AWS.
  await waitUntilTableExists(
    { client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 },
    { TableName: tableName },
  );
}
