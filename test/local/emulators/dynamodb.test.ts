import {
  BatchExecuteStatementCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbEmulator, startDynamoDbEmulator } from '../../../local/emulators/dynamodb.ts';

let ddb: DynamoDbEmulator;
let client: DynamoDBClient;

beforeAll(async () => {
  ddb = await startDynamoDbEmulator();
  client = new DynamoDBClient({
    endpoint: ddb.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client.destroy();
  await ddb.stop();
});

const createTable = (TableName: string) =>
  client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );

describe('DynamoDB emulator through @aws-sdk/client-dynamodb', () => {
  it('binds 127.0.0.1 on an ephemeral port', () => {
    expect(ddb.url).toBe(`http://127.0.0.1:${ddb.port}`);
  });

  it('creates a table with a GSI that is ACTIVE at once and queryable', async () => {
    await createTable('with-gsi');
    // CreateTable answers CREATING as AWS does; with createTableMs 0 it is ACTIVE right after.
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'with-gsi' }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.[0]?.IndexStatus).toBe('ACTIVE');
    await client.send(
      new PutItemCommand({
        TableName: 'with-gsi',
        Item: { pk: { S: 'SHARD#1' }, sk: { S: 'META' }, gsi1pk: { S: 'STATUS#ready' } },
      }),
    );
    const { Items } = await client.send(
      new QueryCommand({
        TableName: 'with-gsi',
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :s',
        ExpressionAttributeValues: { ':s': { S: 'STATUS#ready' } },
      }),
    );
    expect(Items?.map((i) => i.pk?.S)).toEqual(['SHARD#1']);
  });

  it('fails a conditional put with ConditionalCheckFailedException', async () => {
    await createTable('conditional');
    const put = () =>
      client.send(
        new PutItemCommand({
          TableName: 'conditional',
          Item: { pk: { S: 'a' }, sk: { S: 'b' }, v: { N: '1' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put();
    await expect(put()).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const { Item } = await client.send(
      new GetItemCommand({ TableName: 'conditional', Key: { pk: { S: 'a' }, sk: { S: 'b' } } }),
    );
    expect(Item?.v?.N).toBe('1');
  });

  it('refuses PartiQL it cannot answer exactly with a ValidationException naming its subset', async () => {
    await createTable('partiql');
    const statement = {
      Statement: 'UPDATE "partiql" SET "a"=? WHERE "pk"=? AND "sk"=?',
      Parameters: [{ S: 'x' }, { S: 'k' }, { S: 'META' }],
    };
    const refusals = [
      new BatchExecuteStatementCommand({
        Statements: [{ ...statement, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }],
      }),
      new BatchExecuteStatementCommand({
        Statements: [statement],
        ReturnConsumedCapacity: 'TOTAL',
      }),
      new BatchExecuteStatementCommand({
        Statements: [{ Statement: 'DELETE FROM "partiql" WHERE "pk"=? AND "sk"=?' }],
      }),
    ];
    for (const command of refusals) {
      await expect(client.send(command)).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('supports only single-item PartiQL UPDATEs'),
      });
    }
    await expect(
      client.send(new BatchExecuteStatementCommand({ Statements: [] })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('UpdateTimeToLive then DescribeTimeToLive, with AWS validation', async () => {
    await createTable('ttl');
    const describe = async () =>
      (await client.send(new DescribeTimeToLiveCommand({ TableName: 'ttl' })))
        .TimeToLiveDescription;
    expect(await describe()).toEqual({ TimeToLiveStatus: 'DISABLED' });

    const updated = await client.send(
      new UpdateTimeToLiveCommand({
        TableName: 'ttl',
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' },
      }),
    );
    expect(updated.TimeToLiveSpecification).toEqual({ Enabled: true, AttributeName: 'expiresAt' });
    expect(await describe()).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });

    await expect(
      client.send(
        new UpdateTimeToLiveCommand({
          TableName: 'ttl',
          TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });

    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: 'ttl',
        TimeToLiveSpecification: { Enabled: false, AttributeName: 'expiresAt' },
      }),
    );
    expect(await describe()).toEqual({ TimeToLiveStatus: 'DISABLED' });
  });

  it('TTL calls on a missing table fail with ResourceNotFoundException; re-created tables start without TTL', async () => {
    await expect(
      client.send(new DescribeTimeToLiveCommand({ TableName: 'absent' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      client.send(
        new UpdateTimeToLiveCommand({
          TableName: 'absent',
          TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    await createTable('recreated');
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: 'recreated',
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' },
      }),
    );
    await client.send(new DeleteTableCommand({ TableName: 'recreated' }));
    // CreationDateTime has second precision in some versions; make sure it differs.
    await new Promise((r) => setTimeout(r, 20));
    await createTable('recreated');
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: 'recreated' }),
    );
    expect(TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
  });

  it('stop() releases the port at once, with keep-alive connections open', async () => {
    const own = await startDynamoDbEmulator();
    const c = new DynamoDBClient({
      endpoint: own.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await createTableWith(c, 'keep-alive');
    const t0 = Date.now();
    await own.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    const again = await startDynamoDbEmulator({ port: own.port });
    await again.stop();
    c.destroy();
  });
});

async function createTableWith(c: DynamoDBClient, TableName: string) {
  await c.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
}

describe('DynamoDB emulator throttling (fault injection)', () => {
  let own: DynamoDbEmulator;
  /** A client that gives up at once, so every answer the emulator gives is seen. */
  let once: DynamoDBClient;
  const get = (c: DynamoDBClient) =>
    c.send(new GetItemCommand({ TableName: 'throttled', Key: { pk: { S: 'k' } } }));
  /** Which of `n` calls were throttled, as the error name or '-' for a success. */
  const pattern = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        await get(once).then(
          () => '-',
          (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
            expect(e.$metadata?.httpStatusCode).toBe(400);
            return e.name;
          },
        ),
      );
    }
    return out;
  };

  beforeAll(async () => {
    own = await startDynamoDbEmulator({ throttling: { rate: 0.5, seed: 7 } });
    once = new DynamoDBClient({
      endpoint: own.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    own.setThrottling(undefined);
    await createTableWith(once, 'throttled');
  });
  afterAll(async () => {
    once.destroy();
    await own.stop();
  });

  it("answers a seeded share of item calls with AWS's two throttling errors, the same on every run", async () => {
    own.setThrottling({ rate: 0.5, seed: 7 });
    const first = await pattern(40);
    own.setThrottling({ rate: 0.5, seed: 7 });
    expect(await pattern(40)).toEqual(first);
    expect(new Set(first)).toEqual(
      new Set(['-', 'ProvisionedThroughputExceededException', 'ThrottlingException']),
    );
    own.setThrottling({ rate: 0.5, seed: 8 });
    expect(await pattern(40)).not.toEqual(first);
  });

  it('leaves table management alone and stops when switched off', async () => {
    own.setThrottling({ rate: 1 });
    await expect(
      once.send(new DescribeTableCommand({ TableName: 'throttled' })),
    ).resolves.toBeDefined();
    await expect(get(once)).rejects.toThrow();
    own.setThrottling(undefined);
    await expect(get(once)).resolves.toBeDefined();
    expect(() => own.setThrottling({ rate: 2 })).toThrow(/0\.\.1/);
  });

  it('throttles a PartiQL batch as a whole call', async () => {
    const batch = () =>
      once.send(
        new BatchExecuteStatementCommand({
          Statements: [
            {
              Statement: 'UPDATE "throttled" SET "a"=? WHERE "pk"=?',
              Parameters: [{ S: 'x' }, { S: 'k' }],
            },
          ],
        }),
      );
    own.setThrottling({ rate: 1 });
    await expect(batch()).rejects.toThrow(/throughput/);
    own.setThrottling(undefined);
    // Answered per statement: the item does not exist.
    await expect(batch()).resolves.toMatchObject({
      Responses: [{ Error: { Code: 'ConditionalCheckFailed' } }],
    });
  });

  it("is retried by the SDK's own retry strategy, as AWS's throttling is", async () => {
    const retrying = new DynamoDBClient({
      endpoint: own.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 3,
    });
    try {
      own.setThrottling({ rate: 1 });
      const before = own.throttled;
      await expect(get(retrying)).rejects.toMatchObject({ $metadata: { attempts: 3 } });
      expect(own.throttled - before).toBe(3);
    } finally {
      own.setThrottling(undefined);
      retrying.destroy();
    }
  });
});
