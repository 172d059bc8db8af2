// The update/query helpers every store shares: one DynamoDB client, a clock, and writes that
// maintain `version`, `createdAt` and `updatedAt`. Single-item conditional writes only (a
// batch of them is one request, but each statement still succeeds or fails on its own).
// Items are plain objects here and DynamoDB JSON on the wire: the table marshals them itself
// rather than through the DocumentClient, which resolves two middleware stacks on every call
// and cannot use the SDK's handler cache (createDynamoDbClient).
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  paginateQuery,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { convertToAttr, marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { withoutSdkLogger } from '../adapters/sdk.ts';
import { backoffMs, sleep } from '../domain/retry.ts';
import { type ItemKey, TABLE_KEY } from './schema.ts';

type Values = Record<string, unknown>;

export interface UpdateSpec {
  set?: Values;
  remove?: readonly string[];
  /** Refers to attributes as `#name`; they are aliased automatically. */
  condition?: string;
  values?: Values;
}

export interface TableOptions {
  tableName: string;
  /** Default: createDynamoDbClient(). */
  client?: DynamoDBClient;
  clock?: () => Date;
}

/** What a conditional write returned: the item as written, or as it was when it lost. */
export type WriteResult<T> = { written: true; item: T } | { written: false; current?: T };

/**
 * An update of one existing item, made only if it still has the version read (optimistic),
 * which it then bumps; `updatedAt` is set too. Attribute names must not contain `"`.
 */
export interface VersionedUpdate {
  key: ItemKey;
  /** The version read: the write happens only while the item still has it. */
  version: number;
  set?: Values;
  remove?: readonly string[];
}

/** Unprocessed BatchGetItem keys: retried this many times with backoff before giving up. */
const BATCH_GET_ATTEMPTS = 8;
/** Statements of a batch that failed retryably: sent again this many times in all. */
const BATCH_UPDATE_ATTEMPTS = 8;
/** AWS's limit of statements per BatchExecuteStatement. */
export const BATCH_STATEMENT_LIMIT = 25;
/** Per-statement errors worth sending again (capacity and transient service trouble). */
const RETRYABLE_STATEMENT_ERRORS = new Set<string>([
  'ProvisionedThroughputExceeded',
  'ThrottlingError',
  'RequestLimitExceeded',
  'InternalServerError',
  'TransactionConflict',
]);

/**
 * A DynamoDB client for the functions: the SDK's handler cache on (each command's middleware
 * resolved once), its no-op logger off (see withoutSdkLogger).
 */
export function createDynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return withoutSdkLogger(new DynamoDBClient({ ...config, cacheMiddleware: true }));
}

const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

/** A plain object as DynamoDB JSON (undefined attributes left out, as the DocumentClient does). */
export const toAttributes = (values: Record<string, unknown>): Record<string, AttributeValue> =>
  marshall(values, MARSHALL_OPTIONS);

/** An item in DynamoDB JSON as a plain object. */
export const fromAttributes = <T>(item: Record<string, AttributeValue>): T => unmarshall(item) as T;

/** A Query as the stores write it (plain values), for the wire. */
export type ItemQuery = Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>;

/** The query in DynamoDB JSON, on `table`. */
export function queryRequest(table: string, query: ItemQuery) {
  const { ExpressionAttributeValues: values, ...rest } = query;
  return {
    ...rest,
    TableName: table,
    ...(values ? { ExpressionAttributeValues: toAttributes(values) } : {}),
  };
}

const isConditionFailure = (error: unknown): error is ConditionalCheckFailedException =>
  error instanceof ConditionalCheckFailedException;

/**
 * Builds an UpdateItem that also maintains `version`, `createdAt` and `updatedAt`. Attribute
 * names are always aliased (`#a_status`) so reserved words never bite.
 */
export function buildUpdate(spec: UpdateSpec, now: string) {
  const names: Record<string, string> = {};
  const values: Values = { ':v_one': 1, ':v_zero': 0, ':v_now': now, ...spec.values };
  const alias = (attribute: string) => {
    names[`#a_${attribute}`] = attribute;
    return `#a_${attribute}`;
  };
  const sets = [
    `${alias('version')} = if_not_exists(${alias('version')}, :v_zero) + :v_one`,
    `${alias('updatedAt')} = :v_now`,
    `${alias('createdAt')} = if_not_exists(${alias('createdAt')}, :v_now)`,
  ];
  for (const [attribute, value] of Object.entries(spec.set ?? {})) {
    if (value === undefined) continue;
    values[`:s_${attribute}`] = value;
    sets.push(`${alias(attribute)} = :s_${attribute}`);
  }
  let expression = `SET ${sets.join(', ')}`;
  if (spec.remove?.length) expression += ` REMOVE ${spec.remove.map(alias).join(', ')}`;
  for (const match of spec.condition?.matchAll(/#([A-Za-z]+)/g) ?? []) {
    names[`#${match[1]}`] = match[1] as string;
  }
  return {
    UpdateExpression: expression,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ConditionExpression: spec.condition,
  };
}

/** PartiQL identifier: always double-quoted, so reserved words never bite. */
function quoted(name: string): string {
  if (name.includes('"')) throw new Error(`attribute name ${name} may not contain '"'`);
  return `"${name}"`;
}

/**
 * The PartiQL UPDATE of a VersionedUpdate, values as `?` parameters. PartiQL has no
 * if_not_exists or arithmetic we rely on: `version` is set to the read one + 1 explicitly, which
 * the WHERE clause makes exact; `createdAt` is kept (the item exists, or nothing is written).
 */
export function buildVersionedStatement(table: string, update: VersionedUpdate, now: string) {
  const parameters: unknown[] = [update.version + 1, now];
  const sets = [`${quoted('version')}=?`, `${quoted('updatedAt')}=?`];
  for (const [attribute, value] of Object.entries(update.set ?? {})) {
    if (value === undefined) continue;
    sets.push(`${quoted(attribute)}=?`);
    parameters.push(value);
  }
  let statement = `UPDATE ${quoted(table)} SET ${sets.join(', ')}`;
  // PartiQL's REMOVE takes one path: a list is "not well formed".
  for (const attribute of update.remove ?? []) statement += ` REMOVE ${quoted(attribute)}`;
  statement += ` WHERE ${quoted(TABLE_KEY.partition)}=? AND ${quoted(TABLE_KEY.sort)}=? AND ${quoted('version')}=?`;
  parameters.push(update.key.pk, update.key.sk, update.version);
  return { Statement: statement, Parameters: parameters };
}

interface PendingStatement {
  index: number;
  key: ItemKey;
  statement: ReturnType<typeof buildVersionedStatement>;
}

const describeFailure = (key: ItemKey, error: { Code?: string; Message?: string }) =>
  `update of ${key.pk} / ${key.sk} failed: ${error.Code ?? 'unknown error'}${error.Message ? `: ${error.Message}` : ''}`;

/**
 * Sends `items`, then whatever `send` hands back as still to do (unprocessed, throttled), with
 * capped exponential backoff and jitter between rounds, so a throttled table is not hammered in
 * a tight loop; after `attempts` rounds it gives up with `giveUp(left, rounds)`.
 */
async function sendUntilDone<T>(
  items: readonly T[],
  attempts: number,
  send: (pending: T[]) => Promise<T[]>,
  giveUp: (left: T[], rounds: number) => string,
): Promise<void> {
  let pending = [...items];
  for (let attempt = 1; pending.length; attempt++) {
    if (attempt > attempts) throw new Error(giveUp(pending, attempt - 1));
    if (attempt > 1) await sleep(backoffMs(attempt - 1, 50, 2_000));
    pending = await send(pending);
  }
}

export class Table {
  readonly name: string;
  readonly db: DynamoDBClient;
  readonly clock: () => Date;

  constructor(options: TableOptions) {
    this.db = options.client ?? createDynamoDbClient();
    this.name = options.tableName;
    this.clock = options.clock ?? (() => new Date());
  }

  now(): string {
    return this.clock().toISOString();
  }

  async get<T>(key: ItemKey): Promise<T | undefined> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.name, Key: toAttributes(key), ConsistentRead: true }),
    );
    return Item ? fromAttributes<T>(Item) : undefined;
  }

  /** Whether the write happened (false: its condition did not hold). */
  async update(key: ItemKey, spec: UpdateSpec): Promise<boolean> {
    return (await this.write(key, spec, false)).written;
  }

  /**
   * A conditional update that returns the item as written, or, when the condition fails, the
   * item as it was (in the same call: no second read).
   */
  write<T>(key: ItemKey, spec: UpdateSpec, returnItems = true): Promise<WriteResult<T>> {
    const { ExpressionAttributeValues, ...update } = buildUpdate(spec, this.now());
    return this.#send<T>(
      new UpdateItemCommand({
        TableName: this.name,
        Key: toAttributes(key),
        ...update,
        ExpressionAttributeValues: toAttributes(ExpressionAttributeValues),
        ...(returnItems
          ? { ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }
          : {}),
      }),
      returnItems,
    );
  }

  /** Writes a whole item (stamped with version 1 and times) if its condition holds. */
  async put(item: ItemKey & Values, condition?: string): Promise<boolean> {
    const now = this.now();
    const stamped = { version: 1, createdAt: now, updatedAt: now, ...item };
    const result = await this.#send(
      new PutItemCommand({
        TableName: this.name,
        Item: toAttributes(stamped),
        ConditionExpression: condition,
      }),
      false,
    );
    return result.written;
  }

  async #send<T>(command: UpdateItemCommand | PutItemCommand, returnItems: boolean) {
    try {
      const { Attributes } = await this.db.send(command as UpdateItemCommand);
      return {
        written: true as const,
        item: (returnItems && Attributes ? fromAttributes<T>(Attributes) : undefined) as T,
      };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The exception carries the old item (ReturnValuesOnConditionCheckFailure).
      const old = returnItems && error.Item ? fromAttributes<T>(error.Item) : undefined;
      return { written: false as const, ...(old ? { current: old } : {}) };
    }
  }

  /** Every item a Query returns, page after page. */
  async query<T>(query: ItemQuery) {
    const items: T[] = [];
    for await (const page of paginateQuery({ client: this.db }, queryRequest(this.name, query)))
      for (const item of page.Items ?? []) items.push(fromAttributes<T>(item));
    return items;
  }

  /** The items of one partition whose sort key starts with `prefix` (strongly consistent). */
  queryPrefix<T>(pk: string, prefix: string): Promise<T[]> {
    return this.query<T>({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
      ConsistentRead: true,
    });
  }

  /**
   * Versioned updates, up to 25 per request (PartiQL BatchExecuteStatement, one UPDATE per
   * item): whether each was written (false: its version had moved on, or the item is gone).
   * Statements failing retryably are sent again with capped exponential backoff and jitter;
   * any other failure rejects (after the rest of its batch was written or not).
   */
  async batchUpdate(updates: readonly VersionedUpdate[]): Promise<boolean[]> {
    const now = this.now();
    const written = new Array<boolean>(updates.length);
    const statements = updates.map((update, index) => ({
      index,
      key: update.key,
      statement: buildVersionedStatement(this.name, update, now),
    }));
    const batches: Array<Promise<void>> = [];
    for (let start = 0; start < statements.length; start += BATCH_STATEMENT_LIMIT)
      batches.push(
        this.#executeBatch(statements.slice(start, start + BATCH_STATEMENT_LIMIT), written),
      );
    // Every batch settles before a failure is reported: none is left writing behind it.
    const failed = (await Promise.allSettled(batches)).find((b) => b.status === 'rejected');
    if (failed) throw failed.reason;
    return written;
  }

  async #executeBatch(batch: PendingStatement[], written: boolean[]): Promise<void> {
    let retryCodes: string[] = [];
    await sendUntilDone(
      batch,
      BATCH_UPDATE_ATTEMPTS,
      async (pending) => {
        const { Responses = [] } = await this.db.send(
          new BatchExecuteStatementCommand({
            Statements: pending.map(({ statement }) => ({
              Statement: statement.Statement,
              Parameters: statement.Parameters.map((value) =>
                convertToAttr(value, MARSHALL_OPTIONS),
              ),
            })),
          }),
        );
        const retry: PendingStatement[] = [];
        retryCodes = [];
        for (const [position, update] of pending.entries()) {
          const error = Responses[position] ? Responses[position].Error : { Code: 'no answer' };
          if (!error) written[update.index] = true;
          else if (error.Code === 'ConditionalCheckFailed') written[update.index] = false;
          else if (RETRYABLE_STATEMENT_ERRORS.has(error.Code ?? '')) {
            retry.push(update);
            retryCodes.push(error.Code as string);
          } else throw new Error(describeFailure(update.key, error));
        }
        return retry;
      },
      (left, rounds) =>
        `${left.length} updates still failing after ${rounds} batches (${[...new Set(retryCodes)].join(', ')})`,
    );
  }

  /**
   * Reads up to 100 keys. Unprocessed keys (throttling) are retried with capped exponential
   * backoff and jitter, so a throttled table is not hammered in a tight loop.
   */
  async batchGet<T>(keys: readonly ItemKey[]): Promise<T[]> {
    const items: T[] = [];
    await sendUntilDone(
      keys,
      BATCH_GET_ATTEMPTS,
      async (pending) => {
        const { Responses, UnprocessedKeys } = await this.db.send(
          new BatchGetItemCommand({
            RequestItems: {
              [this.name]: { Keys: pending.map((key) => toAttributes(key)), ConsistentRead: true },
            },
          }),
        );
        for (const item of Responses?.[this.name] ?? []) items.push(fromAttributes<T>(item));
        return (UnprocessedKeys?.[this.name]?.Keys ?? []).map((key) =>
          fromAttributes<ItemKey>(key),
        );
      },
      (left, rounds) => `${left.length} keys still unprocessed after ${rounds} reads`,
    );
    return items;
  }
}
