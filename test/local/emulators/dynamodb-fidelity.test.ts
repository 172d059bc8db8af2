// The DynamoDB calls the data layer relies on, run against dynalite (the local stack's emulator)
// and AWS's DynamoDB Local: a behaviour both agree on is AWS's. Where dynalite deviates, the
// test says so explicitly, so a fix or a regression on either side shows up here.
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DYNAMO_START_TIMEOUT_MS,
  type DynamoEndpoint,
  describeEachDynamoTarget,
  uniqueTableName,
} from '../../support/dynamodb-targets.ts';
import { createStateTable, localDynamoDb } from '../../support/table.ts';

type Item = Record<string, AttributeValue>;
const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/** The rejection of `promise`, which must reject. */
async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

/** The item a ConditionalCheckFailedException carries (undefined when it carries none). */
function oldItem(err: unknown): Item | undefined {
  expect(err).toBeInstanceOf(ConditionalCheckFailedException);
  return (err as ConditionalCheckFailedException).Item;
}

describeEachDynamoTarget((target) => {
  let ddb: DynamoEndpoint;
  let client: DynamoDBClient;
  let table: string;
  let keys = 0;
  /** A partition key no other test of this file uses: the table is shared. */
  const freshPk = (label: string) => `${label}#${++keys}`;

  const put = (item: Item) => client.send(new PutItemCommand({ TableName: table, Item: item }));
  const get = async (pk: string, sk: string) =>
    (
      await client.send(
        new GetItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S(sk) },
          ConsistentRead: true,
        }),
      )
    ).Item;

  beforeAll(async () => {
    ddb = await target.start();
    client = localDynamoDb(ddb.url);
    table = uniqueTableName('fidelity');
    await createStateTable(client, table);
  }, DYNAMO_START_TIMEOUT_MS);

  afterAll(async () => {
    client?.destroy();
    await ddb?.stop();
  });

  it('conditional PutItem: ALL_OLD carries the existing item; none when there is no item', async () => {
    const pk = freshPk('put');
    const stored = { pk: S(pk), sk: S('META'), v: N(1), tags: { SS: ['a', 'b'] } };
    await put(stored);

    const exists = await failure(
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(pk), sk: S('META'), v: N(2) },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(oldItem(exists)).toEqual(stored);

    const absent = await failure(
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(pk), sk: S('OTHER') },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(oldItem(absent)).toBeUndefined();

    // Without the parameter (or with NONE) the error carries no item.
    for (const mode of [undefined, 'NONE'] as const) {
      const plain = await failure(
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: { pk: S(pk), sk: S('META') },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: mode,
          }),
        ),
      );
      expect(oldItem(plain)).toBeUndefined();
    }
    expect(await get(pk, 'META')).toEqual(stored);
  });

  it('conditional UpdateItem: ALL_OLD carries the item as it was; none when there is no item', async () => {
    const pk = freshPk('update');
    const stored = { pk: S(pk), sk: S('META'), status: S('ready'), version: N(3) };
    await put(stored);
    const update = (sk: string) =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S(sk) },
          UpdateExpression: 'SET #status = :next, version = version + :one',
          ConditionExpression: 'attribute_exists(pk) AND version = :expected',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':next': S('draining'), ':one': N(1), ':expected': N(2) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );

    const stale = await failure(update('META'));
    expect(oldItem(stale)).toEqual(stored);
    expect(await get(pk, 'META')).toEqual(stored);

    const absent = await failure(update('MISSING'));
    expect(oldItem(absent)).toBeUndefined();
    // A failed conditional update must not create the item.
    expect(await get(pk, 'MISSING')).toBeUndefined();
  });

  it('conditional DeleteItem: ALL_OLD carries the item kept; none when there is no item', async () => {
    const pk = freshPk('delete');
    const stored = { pk: S(pk), sk: S('META'), owner: S('m1') };
    await put(stored);
    const remove = (sk: string) =>
      client.send(
        new DeleteItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S(sk) },
          ConditionExpression: 'attribute_exists(pk) AND #owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': S('m2') },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );

    const notMine = await failure(remove('META'));
    expect(oldItem(notMine)).toEqual(stored);
    expect(await get(pk, 'META')).toEqual(stored);

    const absent = await failure(remove('MISSING'));
    expect(oldItem(absent)).toBeUndefined();
  });

  it('ReturnValuesOnConditionCheckFailure accepts only ALL_OLD and NONE', async () => {
    const err = await failure(
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(freshPk('enum')), sk: S('META') },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_NEW' as 'ALL_OLD',
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain("at 'returnValuesOnConditionCheckFailure'");
  });

  it('UpdateItem ReturnValues: ALL_NEW gives the whole new item, ALL_OLD the previous one', async () => {
    const pk = freshPk('returns');
    await put({ pk: S(pk), sk: S('META'), count: N(1), keep: S('k') });
    const next = await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: S(pk), sk: S('META') },
        UpdateExpression: 'SET #count = #count + :one, added = :a REMOVE keep',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':one': N(1), ':a': S('x') },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(next.Attributes).toEqual({ pk: S(pk), sk: S('META'), count: N(2), added: S('x') });

    const previous = await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: S(pk), sk: S('META') },
        UpdateExpression: 'SET added = :b',
        ExpressionAttributeValues: { ':b': S('y') },
        ReturnValues: 'ALL_OLD',
      }),
    );
    expect(previous.Attributes).toEqual({ pk: S(pk), sk: S('META'), count: N(2), added: S('x') });
  });

  it('if_not_exists sets a value once and counts from zero', async () => {
    const pk = freshPk('ifnotexists');
    const touch = (at: string) =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S('META') },
          UpdateExpression:
            'SET createdAt = if_not_exists(createdAt, :at), updatedAt = :at, version = if_not_exists(version, :zero) + :one',
          ExpressionAttributeValues: { ':at': S(at), ':zero': N(0), ':one': N(1) },
          ReturnValues: 'ALL_NEW',
        }),
      );
    expect((await touch('2026-01-01T00:00:00Z')).Attributes).toMatchObject({
      createdAt: S('2026-01-01T00:00:00Z'),
      updatedAt: S('2026-01-01T00:00:00Z'),
      version: N(1),
    });
    expect((await touch('2026-01-02T00:00:00Z')).Attributes).toMatchObject({
      createdAt: S('2026-01-01T00:00:00Z'),
      updatedAt: S('2026-01-02T00:00:00Z'),
      version: N(2),
    });
  });

  it('BatchGetItem returns the items that exist, with a projection', async () => {
    const pk = freshPk('batch');
    await put({ pk: S(pk), sk: S('A'), v: N(1), extra: S('e') });
    await put({ pk: S(pk), sk: S('B'), v: N(2), extra: S('e') });
    const { Responses, UnprocessedKeys } = await client.send(
      new BatchGetItemCommand({
        RequestItems: {
          [table]: {
            Keys: ['A', 'B', 'C'].map((sk) => ({ pk: S(pk), sk: S(sk) })),
            ProjectionExpression: 'sk, v',
            ConsistentRead: true,
          },
        },
      }),
    );
    const items = (Responses?.[table] ?? []).sort((a, b) => a.sk!.S!.localeCompare(b.sk!.S!));
    expect(items).toEqual([
      { sk: S('A'), v: N(1) },
      { sk: S('B'), v: N(2) },
    ]);
    expect(UnprocessedKeys ?? {}).toEqual({});
  });

  it('Query with begins_with on the sort key, in key order', async () => {
    const pk = freshPk('query');
    for (const sk of ['NODE#2', 'META', 'NODE#1', 'NODEX']) await put({ pk: S(pk), sk: S(sk) });
    const { Items } = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': S(pk), ':prefix': S('NODE#') },
        ConsistentRead: true,
      }),
    );
    expect(Items?.map((i) => i.sk?.S)).toEqual(['NODE#1', 'NODE#2']);
  });

  it('Query on a sparse GSI with <= on its sort key sees only items carrying both keys', async () => {
    const pk = freshPk('sparse');
    const due = `DUE#${pk}`;
    await put({ pk: S(pk), sk: S('J1'), workPk: S(due), workSk: S('2026-01-01T00:00:01Z') });
    await put({ pk: S(pk), sk: S('J2'), workPk: S(due), workSk: S('2026-01-01T00:00:03Z') });
    await put({ pk: S(pk), sk: S('J3'), workPk: S(due), workSk: S('2026-01-01T00:00:02Z') });
    await put({ pk: S(pk), sk: S('J4'), workPk: S(due), workSk: S('2026-01-01T00:00:09Z') });
    // Missing the sort key or both keys: not in the index.
    await put({ pk: S(pk), sk: S('J5'), workPk: S(due) });
    await put({ pk: S(pk), sk: S('J6') });
    // Leaving the index is removing its key attribute.
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: S(pk), sk: S('J3') },
        UpdateExpression: 'REMOVE workPk, workSk',
      }),
    );
    const query = (forward: boolean) =>
      client.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'work',
          KeyConditionExpression: 'workPk = :due AND workSk <= :now',
          ExpressionAttributeValues: { ':due': S(due), ':now': S('2026-01-01T00:00:05Z') },
          ScanIndexForward: forward,
        }),
      );
    expect((await query(true)).Items?.map((i) => i.sk?.S)).toEqual(['J1', 'J2']);
    expect((await query(false)).Items?.map((i) => i.sk?.S)).toEqual(['J2', 'J1']);
  });

  it('a TTL attribute round-trips as a number of epoch seconds', async () => {
    const pk = freshPk('ttl-attr');
    const expiresAt = Math.floor(Date.parse('2030-01-01T00:00:00Z') / 1000);
    await put({ pk: S(pk), sk: S('META'), expiresAt: N(expiresAt) });
    expect((await get(pk, 'META'))?.expiresAt).toEqual(N(expiresAt));
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: S(pk), sk: S('META') },
        UpdateExpression: 'REMOVE expiresAt',
      }),
    );
    expect(await get(pk, 'META')).toEqual({ pk: S(pk), sk: S('META') });
  });

  it('UpdateTimeToLive / DescribeTimeToLive', async () => {
    const ttlTable = uniqueTableName('fidelity-ttl');
    await createStateTable(client, ttlTable);
    const describe = async () =>
      (await client.send(new DescribeTimeToLiveCommand({ TableName: ttlTable })))
        .TimeToLiveDescription;
    const update = (Enabled: boolean, AttributeName: string) =>
      client.send(
        new UpdateTimeToLiveCommand({
          TableName: ttlTable,
          TimeToLiveSpecification: { Enabled, AttributeName },
        }),
      );

    expect(await describe()).toEqual({ TimeToLiveStatus: 'DISABLED' });
    expect((await update(true, 'expiresAt')).TimeToLiveSpecification).toEqual({
      Enabled: true,
      AttributeName: 'expiresAt',
    });
    expect(await describe()).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });

    const again = await failure(update(true, 'expiresAt'));
    expect([again.name, again.message]).toEqual([
      'ValidationException',
      'TimeToLive is already enabled',
    ]);
    const other = await failure(update(false, 'other'));
    expect(other.name).toBe('ValidationException');
    // dynalite's front also names the current attribute; DynamoDB Local stops here.
    expect(other.message).toMatch(/^TimeToLive is active on a different AttributeName/);

    expect((await update(false, 'expiresAt')).TimeToLiveSpecification).toEqual({
      Enabled: false,
      AttributeName: 'expiresAt',
    });
    expect(await describe()).toEqual({ TimeToLiveStatus: 'DISABLED' });

    const missing = await failure(
      client.send(new DescribeTimeToLiveCommand({ TableName: uniqueTableName('absent') })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('validation both share: reserved words, empty sets, empty key strings, unused values', async () => {
    const pk = freshPk('validation');
    const reserved = await failure(
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S('META') },
          UpdateExpression: 'SET status = :s',
          ExpressionAttributeValues: { ':s': S('x') },
        }),
      ),
    );
    expect(reserved.message).toBe(
      'Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status',
    );
    const emptySet = await failure(put({ pk: S(pk), sk: S('META'), tags: { SS: [] } }));
    expect(emptySet.name).toBe('ValidationException');
    const emptyKey = await failure(put({ pk: S(''), sk: S('META') }));
    expect(emptyKey.message).toContain('cannot contain an empty string value');
    const unused = await failure(
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(pk), sk: S('META') },
          ExpressionAttributeValues: { ':unused': S('x') },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    expect(unused.message).toBe(
      'Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}',
    );
    // Empty strings are valid outside keys.
    await put({ pk: S(pk), sk: S('EMPTY'), note: S('') });
    expect((await get(pk, 'EMPTY'))?.note).toEqual(S(''));
  });

  describe('PartiQL UPDATE (the batched node records)', () => {
    /** The store's statement shape: set two attributes, remove one, optimistic on `version`. */
    const versioned = () =>
      `UPDATE "${table}" SET "version"=?, "a"=? REMOVE "gone" WHERE "pk"=? AND "sk"=? AND "version"=?`;
    const bump = (pk: string, read: number, a: string) => ({
      Statement: versioned(),
      Parameters: [N(read + 1), S(a), S(pk), S('META'), N(read)],
    });
    const batch = async (Statements: Array<{ Statement: string; Parameters?: AttributeValue[] }>) =>
      (await client.send(new BatchExecuteStatementCommand({ Statements }))).Responses;
    const conditionFailed = {
      Error: { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    };

    it('answers each statement in order: a failed condition or a missing item fails only that one', async () => {
      const [fresh, moved, removed, missing] = ['fresh', 'moved', 'removed', 'missing'].map(
        freshPk,
      );
      await put({ pk: S(fresh!), sk: S('META'), version: N(1), gone: S('x'), keep: S('k') });
      await put({ pk: S(moved!), sk: S('META'), version: N(5) });
      await put({ pk: S(removed!), sk: S('META'), version: N(2), gone: S('y') });

      expect(
        await batch([
          bump(fresh!, 1, 'one'),
          bump(moved!, 1, 'two'),
          bump(missing!, 1, 'three'),
          bump(removed!, 2, 'four'),
        ]),
      ).toEqual([
        { TableName: table },
        { ...conditionFailed, TableName: table },
        { ...conditionFailed, TableName: table },
        { TableName: table },
      ]);
      expect(await get(fresh!, 'META')).toEqual({
        pk: S(fresh!),
        sk: S('META'),
        version: N(2),
        a: S('one'),
        keep: S('k'),
      });
      expect(await get(moved!, 'META')).toEqual({ pk: S(moved!), sk: S('META'), version: N(5) });
      // PartiQL UPDATE never creates an item.
      expect(await get(missing!, 'META')).toBeUndefined();
      expect(await get(removed!, 'META')).toEqual({
        pk: S(removed!),
        sk: S('META'),
        version: N(3),
        a: S('four'),
      });
    });

    it('takes repeated SET and REMOVE clauses, keywords in any case, maps as parameters', async () => {
      const pk = freshPk('clauses');
      await put({ pk: S(pk), sk: S('META'), c: S('c'), d: S('d') });
      const orphans = { M: { stores: { M: { 'ws-1': S('2026-01-01T00:00:00Z') } } } };
      expect(
        await batch([
          {
            Statement: `update "${table}" set "m"=? set "b"=? remove "c" REMOVE "d" where "pk"=? and "sk"=?`,
            Parameters: [orphans, S('b'), S(pk), S('META')],
          },
        ]),
      ).toEqual([{ TableName: table }]);
      expect(await get(pk, 'META')).toEqual({ pk: S(pk), sk: S('META'), m: orphans, b: S('b') });
    });

    it('reports statements AWS refuses per statement; the rest of the batch runs', async () => {
      const pk = freshPk('refused');
      await put({ pk: S(pk), sk: S('META'), version: N(1) });
      const missingTable = uniqueTableName('absent');
      expect(
        await batch([
          { Statement: versioned(), Parameters: [N(2), S('a'), S(pk), S('META')] },
          { Statement: `UPDATE "${table}" SET "a"=? WHERE "pk"=?`, Parameters: [S('a'), S(pk)] },
          {
            Statement: `UPDATE "${table}" SET "z"=? REMOVE "z" WHERE "pk"=? AND "sk"=?`,
            Parameters: [S('a'), S(pk), S('OTHER')],
          },
          {
            Statement: `UPDATE "${missingTable}" SET "a"=? WHERE "pk"=? AND "sk"=?`,
            Parameters: [S('a'), S(pk), S('META')],
          },
          bump(pk, 1, 'written'),
        ]),
      ).toEqual([
        {
          Error: {
            Code: 'ValidationError',
            Message: "Number of parameters in request and statement don't match.",
          },
        },
        {
          Error: {
            Code: 'ValidationError',
            Message: 'Where clause does not contain a mandatory equality on all key attributes',
          },
        },
        {
          Error: {
            Code: 'ValidationError',
            Message:
              'Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [z], path two: [z]',
          },
        },
        {
          Error: {
            Code: 'ResourceNotFound',
            Message: 'Cannot do operations on a non-existent table',
          },
        },
        { TableName: table },
      ]);
      expect(await get(pk, 'META')).toMatchObject({ version: N(2), a: S('written') });
    });

    it('refuses more than 25 statements, or two on one item, as a whole call', async () => {
      const pk = freshPk('limits');
      const many = Array.from({ length: 26 }, (_, i) => bump(`${pk}-${i}`, 1, 'x'));
      const tooMany = await failure(batch(many));
      expect(tooMany.name).toBe('ValidationException');
      expect(tooMany.message).toContain('25');
      // (DynamoDB Local applies the statements before refusing; AWS refuses up front: the
      // items are not compared.)
      const twice = await failure(batch([bump(pk, 1, 'x'), bump(pk, 2, 'y')]));
      expect([twice.name, twice.message]).toEqual([
        'ValidationException',
        'Provided list of item keys contains duplicates',
      ]);
    });

    it('ExecuteStatement: no items on success, ConditionalCheckFailedException otherwise', async () => {
      const pk = freshPk('execute');
      await put({ pk: S(pk), sk: S('META'), version: N(1), gone: S('x') });
      const execute = (key: string, read: number) =>
        client.send(new ExecuteStatementCommand(bump(key, read, 'e')));
      expect((await execute(pk, 1)).Items).toEqual([]);
      expect(await get(pk, 'META')).toEqual({
        pk: S(pk),
        sk: S('META'),
        version: N(2),
        a: S('e'),
      });
      expect((await failure(execute(pk, 1))).name).toBe('ConditionalCheckFailedException');
      expect((await failure(execute(freshPk('absent'), 1))).name).toBe(
        'ConditionalCheckFailedException',
      );
    });

    it("known dynalite deviation: PartiQL outside the front's subset is refused", async () => {
      const pk = freshPk('subset');
      await put({ pk: S(pk), sk: S('META') });
      const literal = () =>
        batch([
          {
            Statement: `UPDATE "${table}" SET "a"='literal' WHERE "pk"=? AND "sk"=?`,
            Parameters: [S(pk), S('META')],
          },
        ]);
      // AWS's parser refuses a REMOVE list in this one statement; the front, the whole call.
      const removeList = () =>
        batch([
          {
            Statement: `UPDATE "${table}" REMOVE "a", "b" WHERE "pk"=? AND "sk"=?`,
            Parameters: [S(pk), S('META')],
          },
        ]);
      if (target.name === 'dynalite') {
        for (const call of [literal, removeList]) {
          const err = await failure(call());
          expect(err.name).toBe('ValidationException');
          expect(err.message).toContain('supports only single-item PartiQL UPDATEs');
        }
      } else {
        expect(await literal()).toEqual([{ TableName: table }]);
        expect(await removeList()).toMatchObject([
          { Error: { Code: 'ValidationError', Message: expect.stringContaining('well formed') } },
        ]);
      }
    });
  });

  it('known dynalite deviation: an empty string as a GSI key attribute', async () => {
    // AWS (and DynamoDB Local) reject it; dynalite stores the item. A sparse index must be left
    // by removing the attribute, never by writing ''.
    const write = put({
      pk: S(freshPk('gsi-empty')),
      sk: S('META'),
      workPk: S(''),
      workSk: S('x'),
    });
    if (target.name === 'dynalite') {
      await write;
    } else {
      const err = await failure(write);
      expect(err.name).toBe('ValidationException');
      expect(err.message).toContain('IndexName: work, IndexKey: workPk');
    }
  });

  it('known dynalite deviation: no TransactWriteItems', async () => {
    const pk = freshPk('tx');
    const write = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: S(pk), sk: S('A') } } },
          { Put: { TableName: table, Item: { pk: S(pk), sk: S('B') } } },
        ],
      }),
    );
    if (target.name === 'dynalite') {
      expect((await failure(write)).name).toBe('UnknownOperationException');
    } else {
      await write;
      expect(await get(pk, 'B')).toEqual({ pk: S(pk), sk: S('B') });
    }
  });
});
