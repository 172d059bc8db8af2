import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
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

/** Writes items in batches of 25, a few batches at once, retrying unprocessed ones. */
export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  items: Array<Record<string, unknown>>,
) {
  const chunks: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      let requests = chunks[next++]!.map((item) => ({
        PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) },
      }));
      while (requests.length) {
        const out = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: requests } }),
        );
        requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * Seeds many records shaped exactly like one the code under test wrote: reads the record at
 * `key` and writes one copy per entry of `changes` (keys and ids), in batches. Thousands of
 * the stores' own single writes cost seconds of CPU that a test of something else should not.
 */
export async function writeCopiesOf(
  client: DynamoDBClient,
  table: string,
  key: Record<string, string>,
  changes: Array<Record<string, unknown>>,
) {
  const out = await client.send(new GetItemCommand({ TableName: table, Key: marshall(key) }));
  if (!out.Item) throw new Error(`writeCopiesOf: no record at ${JSON.stringify(key)}`);
  const record = unmarshall(out.Item);
  await batchWrite(
    client,
    table,
    changes.map((c) => ({ ...record, ...c })),
  );
}
