// DynamoDB emulator: dynalite 4 in-process (in-memory), with a small front answering what
// dynalite lacks:
// - Time to Live configuration: dynalite has no UpdateTimeToLive and always describes TTL as
//   DISABLED, while the stack enables TTL on its table. TTL expiry itself is not emulated.
// - ReturnValuesOnConditionCheckFailure on PutItem/UpdateItem/DeleteItem: dynalite ignores it,
//   so a failed conditional write never carries the item as it was (AWS puts it in the
//   ConditionalCheckFailedException body as `Item`).
// - PartiQL: dynalite has none. BatchExecuteStatement and ExecuteStatement are answered for the
//   single-item UPDATEs the stores send (partiql.ts has the subset), each statement run as the
//   UpdateItem it means; AWS's per-statement answers ({ TableName } or { Error }) come back in
//   statement order. Any other statement is refused with a ValidationException.
// It also throttles on demand (a seeded share of data-plane calls), for chaos runs and tests of
// the SDK's retries and the retry ladder.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { seededRandom } from '../random.ts';
import { installDynaliteParseCache } from './dynalite-parse-cache.ts';
import {
  type AttributeValue,
  parseUpdate,
  type StatementError,
  toUpdateItem,
  UnsupportedStatementError,
} from './partiql.ts';

export interface DynamoDbEmulator {
  url: string;
  port: number;
  /** Throttles a share of data-plane calls from now on; undefined or rate 0 stops it. */
  setThrottling(throttling: DynamoDbThrottling | undefined): void;
  /** Calls answered with a throttling error so far. */
  readonly throttled: number;
  stop(): Promise<void>;
}

export interface DynamoDbThrottling {
  /** Share (0..1) of item and query calls answered with a throttling error, as AWS sends it. */
  rate: number;
  /** The draws' seed: the same seed throttles the same calls (by arrival order). @default 1 */
  seed?: number;
}

/** Calls that touch items: what a hot partition or an exhausted capacity throttles. */
const DATA_PLANE = new Set(
  [
    'GetItem',
    'PutItem',
    'UpdateItem',
    'DeleteItem',
    'Query',
    'Scan',
    'BatchGetItem',
    'BatchWriteItem',
    'TransactGetItems',
    'TransactWriteItems',
    // Throttled as a whole call (AWS may also fail single statements with
    // ProvisionedThroughputExceeded): the SDK retries it, the stores retry single statements.
    'BatchExecuteStatement',
    'ExecuteStatement',
  ].map((op) => `DynamoDB_20120810.${op}`),
);

/** The two throttling answers AWS gives (HTTP 400); the SDK retries both. */
const THROTTLING_ERRORS = [
  {
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  {
    __type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
] as const;

const UPDATE_TTL = 'DynamoDB_20120810.UpdateTimeToLive';
const DESCRIBE_TTL = 'DynamoDB_20120810.DescribeTimeToLive';
const WRITES = new Set([
  'DynamoDB_20120810.PutItem',
  'DynamoDB_20120810.UpdateItem',
  'DynamoDB_20120810.DeleteItem',
]);
const CONDITIONAL_CHECK_FAILED = 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException';
const BATCH_EXECUTE = 'DynamoDB_20120810.BatchExecuteStatement';
const EXECUTE = 'DynamoDB_20120810.ExecuteStatement';
/** AWS's limit of statements per BatchExecuteStatement. */
const MAX_BATCH_STATEMENTS = 25;

interface TtlSetting {
  attributeName: string;
  /** Identifies the table incarnation, so a deleted and re-created table starts without TTL. */
  tableCreated: number;
}

class DynamoError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.Message ?? body.__type));
  }
}

const validation = (message: string) =>
  new DynamoError(400, { __type: 'com.amazon.coral.validate#ValidationException', message });

const unsupported = (reason: string) =>
  validation(
    `The local DynamoDB emulator supports only single-item PartiQL UPDATEs with ? parameters (UPDATE "table" SET "a"=?, "b"=? REMOVE "c" REMOVE "d" WHERE "pk"=? AND "sk"=? AND "e"=?): ${reason}`,
  );

export async function startDynamoDbEmulator(
  opts: { port?: number; throttling?: DynamoDbThrottling } = {},
): Promise<DynamoDbEmulator> {
  installDynaliteParseCache();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let throttleRate = 0;
  let draw = Math.random;
  let throttled = 0;
  const setThrottling = (t: DynamoDbThrottling | undefined) => {
    if (t && !(t.rate >= 0 && t.rate <= 1))
      throw new Error(`throttling rate must be 0..1 (got ${t.rate})`);
    throttleRate = t?.rate ?? 0;
    draw = seededRandom(t?.seed ?? 1);
  };
  setThrottling(opts.throttling);
  const ttl = new Map<string, TtlSetting>();
  let port = 0;

  const [dynaliteHandler] = server.listeners('request') as Array<
    (req: IncomingMessage, res: ServerResponse) => void
  >;
  if (!dynaliteHandler) throw new Error('dynalite registered no request handler');
  server.removeAllListeners('request');
  // Hands one request to dynalite's own handler in-process (no loopback socket: a connection
  // per call cost as much CPU as dynalite's work), with the caller's auth headers (dynalite
  // checks their shape, not signatures, and they keep the caller's error semantics).
  const inner = (req: IncomingMessage, target: string, payload: string) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const request = Object.assign(Readable.from([Buffer.from(payload)], { objectMode: false }), {
        method: 'POST',
        url: '/',
        headers: {
          authorization: req.headers.authorization ?? '',
          'x-amz-date': req.headers['x-amz-date'] ?? '',
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': target,
          'content-length': String(Buffer.byteLength(payload)),
        },
      });
      const response = new CapturedResponse((status, text) => {
        try {
          resolve({ status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        } catch (error) {
          reject(error);
        }
      });
      dynaliteHandler.call(
        server,
        request as unknown as IncomingMessage,
        response as unknown as ServerResponse,
      );
    });

  // Asks dynalite for the table, so missing tables fail exactly as dynalite reports them.
  const describeTable = async (req: IncomingMessage, tableName: string) => {
    const { status, body } = await inner(
      req,
      'DynamoDB_20120810.DescribeTable',
      JSON.stringify({ TableName: tableName }),
    );
    if (status !== 200) throw new DynamoError(status, body);
    return (body as { Table: TableDescription }).Table;
  };

  const current = (tableName: string, created: number) => {
    const setting = ttl.get(tableName);
    return setting && setting.tableCreated === created ? setting : undefined;
  };

  const handleTtl = async (req: IncomingMessage, target: string) => {
    const body = (await readJson(req)) as Record<string, unknown>;
    const tableName = body.TableName;
    if (typeof tableName !== 'string' || tableName.length < 3 || tableName.length > 255) {
      throw validation(
        "1 validation error detected: Value at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
      );
    }
    if (target === DESCRIBE_TTL) {
      const table = await describeTable(req, tableName);
      const setting = current(tableName, table.CreationDateTime);
      return {
        TimeToLiveDescription: setting
          ? { TimeToLiveStatus: 'ENABLED', AttributeName: setting.attributeName }
          : { TimeToLiveStatus: 'DISABLED' },
      };
    }
    const spec = body.TimeToLiveSpecification as
      | { Enabled?: unknown; AttributeName?: unknown }
      | undefined;
    if (!spec || typeof spec.Enabled !== 'boolean') {
      throw validation(
        "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null",
      );
    }
    const attributeName = spec.AttributeName;
    if (
      typeof attributeName !== 'string' ||
      attributeName.length < 1 ||
      attributeName.length > 255
    ) {
      throw validation(
        "1 validation error detected: Value at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    const table = await describeTable(req, tableName);
    const setting = current(tableName, table.CreationDateTime);
    if (spec.Enabled) {
      if (setting) throw validation('TimeToLive is already enabled');
      ttl.set(tableName, { attributeName, tableCreated: table.CreationDateTime });
    } else {
      if (!setting) throw validation('TimeToLive is already disabled');
      if (setting.attributeName !== attributeName) {
        throw validation(
          `TimeToLive is active on a different AttributeName: current AttributeName is ${setting.attributeName}`,
        );
      }
      ttl.delete(tableName);
    }
    // AWS goes through ENABLING/DISABLING for up to an hour; locally the change is immediate.
    return { TimeToLiveSpecification: { AttributeName: attributeName, Enabled: spec.Enabled } };
  };

  // A conditional write asking for ALL_OLD goes to dynalite without the parameter; when its
  // condition fails, the item is read (consistently) and added to the error as AWS does. AWS
  // returns the very item the condition was checked against; here another request handled
  // between the two calls (one loopback round trip) may have changed or deleted it. Acceptable
  // for an emulator (on AWS the answer is atomic).
  const handleWriteWithOldItem = async (req: IncomingMessage, target: string, body: WriteBody) => {
    const { ReturnValuesOnConditionCheckFailure: _, ...forwarded } = body;
    const result = await inner(req, target, JSON.stringify(forwarded));
    if (result.status === 400 && result.body.__type === CONDITIONAL_CHECK_FAILED) {
      const key = target.endsWith('.PutItem') ? await keyOf(req, body) : body.Key;
      const read = await inner(
        req,
        'DynamoDB_20120810.GetItem',
        JSON.stringify({ TableName: body.TableName, Key: key, ConsistentRead: true }),
      );
      if (read.status === 200 && read.body.Item) {
        return { status: 400, body: { ...result.body, Item: read.body.Item } };
      }
    }
    return result;
  };

  // PutItem names the whole item: the key is the table's key attributes taken from it.
  const keyOf = async (req: IncomingMessage, body: WriteBody) => {
    const table = await describeTable(req, String(body.TableName));
    const item = (body.Item ?? {}) as Record<string, unknown>;
    return Object.fromEntries(table.KeySchema.map((k) => [k.AttributeName, item[k.AttributeName]]));
  };

  // A statement ready to run as an UpdateItem, or the answer AWS gives it without running it.
  type Prepared =
    | { table: string; id: string; request: Record<string, unknown> }
    | { response: { Error: StatementError | { Code: 'ResourceNotFound'; Message: string } } };

  const prepareStatement = async (
    body: unknown,
    keyAttributesOf: (table: string) => Promise<string[] | undefined>,
  ): Promise<Prepared> => {
    const { Statement, Parameters, ReturnValuesOnConditionCheckFailure } = (body ?? {}) as Record<
      string,
      unknown
    >;
    if (typeof Statement !== 'string' || Statement.length === 0)
      throw validation('The statement was empty.');
    if (Parameters !== undefined && !Array.isArray(Parameters))
      throw validation('Parameters must be a list of attribute values');
    if (
      ReturnValuesOnConditionCheckFailure !== undefined &&
      ReturnValuesOnConditionCheckFailure !== 'NONE'
    )
      throw unsupported('ReturnValuesOnConditionCheckFailure is not supported');
    try {
      const parsed = parseUpdate(Statement);
      const keyAttributes = await keyAttributesOf(parsed.table);
      if (!keyAttributes) {
        const Message = 'Cannot do operations on a non-existent table';
        return { response: { Error: { Code: 'ResourceNotFound', Message } } };
      }
      const update = toUpdateItem(parsed, (Parameters ?? []) as AttributeValue[], keyAttributes);
      if ('error' in update) return { response: { Error: update.error } };
      const id = JSON.stringify([parsed.table, ...keyAttributes.map((k) => update.key[k])]);
      return { table: parsed.table, id, request: update.request };
    } catch (err) {
      if (err instanceof UnsupportedStatementError) throw unsupported(err.message);
      throw err;
    }
  };

  // Each call describes a table once, however many statements name it.
  const keyAttributesLookup = (req: IncomingMessage) => {
    const known = new Map<string, Promise<string[] | undefined>>();
    return (table: string) => {
      let keys = known.get(table);
      if (!keys) {
        keys = describeTable(req, table).then(
          (t) => t.KeySchema.map((k) => k.AttributeName),
          (err: unknown) => {
            if (
              err instanceof DynamoError &&
              String(err.body.__type).endsWith('#ResourceNotFoundException')
            )
              return undefined;
            throw err;
          },
        );
        known.set(table, keys);
      }
      return keys;
    };
  };

  const updateItem = (req: IncomingMessage, request: Record<string, unknown>) =>
    inner(req, 'DynamoDB_20120810.UpdateItem', JSON.stringify(request));

  // BatchExecuteStatement: statements run side by side (their items are distinct), answered
  // in statement order with what AWS puts in each BatchStatementResponse.
  const handleBatchExecute = async (req: IncomingMessage) => {
    const body = ((await readJson(req)) ?? {}) as Record<string, unknown>;
    const statements = body.Statements;
    if (!Array.isArray(statements) || statements.length === 0) {
      throw validation(
        "1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    if (statements.length > MAX_BATCH_STATEMENTS) {
      throw validation(
        `1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length less than or equal to ${MAX_BATCH_STATEMENTS}`,
      );
    }
    if (body.ReturnConsumedCapacity !== undefined && body.ReturnConsumedCapacity !== 'NONE')
      throw unsupported('ReturnConsumedCapacity is not supported');
    const keyAttributesOf = keyAttributesLookup(req);
    const prepared = await Promise.all(
      statements.map((statement) => prepareStatement(statement, keyAttributesOf)),
    );
    const ids = prepared.flatMap((p) => ('id' in p ? [p.id] : []));
    if (new Set(ids).size !== ids.length)
      throw validation('Provided list of item keys contains duplicates');
    const Responses = await Promise.all(
      prepared.map(async (p) => {
        if ('response' in p) return p.response;
        const { status, body: answer } = await updateItem(req, p.request);
        if (status === 200) return { TableName: p.table };
        return { Error: statementError(answer), TableName: p.table };
      }),
    );
    return { status: 200, body: { Responses } };
  };

  // ExecuteStatement: the same UPDATE alone; its failure is the call's (as UpdateItem's is).
  const handleExecute = async (req: IncomingMessage) => {
    const body = ((await readJson(req)) ?? {}) as Record<string, unknown>;
    for (const field of ['Limit', 'NextToken', 'ReturnConsumedCapacity'] as const) {
      if (body[field] !== undefined && body[field] !== 'NONE')
        throw unsupported(`${field} is not supported`);
    }
    const prepared = await prepareStatement(body, keyAttributesLookup(req));
    if ('response' in prepared) {
      const { Code, Message } = prepared.response.Error;
      if (Code === 'ResourceNotFound') {
        throw new DynamoError(400, {
          __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
          message: Message,
        });
      }
      throw validation(Message);
    }
    const result = await updateItem(req, prepared.request);
    return result.status === 200 ? { status: 200, body: { Items: [] } } : result;
  };

  const replyWith = (res: ServerResponse, work: Promise<{ status: number; body: unknown }>) =>
    work.then(
      ({ status, body }) => send(res, status, body),
      (err: unknown) => {
        if (err instanceof DynamoError) send(res, err.status, err.body);
        else if (err instanceof SyntaxError) {
          send(res, 400, { __type: 'com.amazon.coral.service#SerializationException' });
        } else send(res, 500, { __type: 'com.amazon.coral.service#InternalFailure' });
      },
    );

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    // One draw decides whether to throttle, a second which of the two errors AWS would send.
    if (throttleRate > 0 && DATA_PLANE.has(target) && draw() < throttleRate) {
      throttled++;
      const error = THROTTLING_ERRORS[draw() < 0.5 ? 0 : 1];
      readBytes(req).then(
        () => send(res, 400, error),
        () => res.destroy(),
      );
      return;
    }
    if (target === UPDATE_TTL || target === DESCRIBE_TTL) {
      replyWith(
        res,
        handleTtl(req, target).then((body) => ({ status: 200, body })),
      );
      return;
    }
    if (target === BATCH_EXECUTE || target === EXECUTE) {
      replyWith(res, target === EXECUTE ? handleExecute(req) : handleBatchExecute(req));
      return;
    }
    if (!WRITES.has(target)) {
      dynaliteHandler.call(server, req, res);
      return;
    }
    // Only the body says whether the write asks for ALL_OLD: read it, then either handle the
    // write here or replay the same bytes to dynalite (which reads only these request fields).
    readBytes(req).then(
      (bytes) => {
        const body = parseWrite(bytes);
        const mode = body?.ReturnValuesOnConditionCheckFailure;
        if (body && mode !== undefined && mode !== 'NONE') {
          if (mode !== 'ALL_OLD') {
            send(res, 400, {
              __type: 'com.amazon.coral.validate#ValidationException',
              message: `1 validation error detected: Value '${String(mode)}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]`,
            });
            return;
          }
          replyWith(res, handleWriteWithOldItem(req, target, body));
          return;
        }
        const replay = Object.assign(
          Readable.from(bytes.length ? [bytes] : [], { objectMode: false }),
          {
            headers: req.headers,
            url: req.url,
            method: req.method,
          },
        );
        dynaliteHandler.call(server, replay as unknown as IncomingMessage, res);
      },
      () => res.destroy(),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setThrottling,
    get throttled() {
      return throttled;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        // dynalite's close also closes its store once the listener has stopped.
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The part of ServerResponse dynalite's handler uses, answering into a callback. */
class CapturedResponse {
  statusCode = 200;
  contentType?: string;
  readonly #headers = new Map<string, unknown>();
  constructor(private readonly done: (status: number, body: string) => void) {}
  setHeader(name: string, value: unknown) {
    this.#headers.set(name.toLowerCase(), value);
    return this;
  }
  getHeader(name: string) {
    return this.#headers.get(name.toLowerCase());
  }
  end(body?: string | Buffer) {
    this.done(this.statusCode, body === undefined ? '' : body.toString());
    return this;
  }
}

interface TableDescription {
  CreationDateTime: number;
  KeySchema: Array<{ AttributeName: string }>;
}

/** AWS's per-statement error for an UpdateItem failure dynalite reported as an exception. */
function statementError(body: Record<string, unknown>): { Code: string; Message: string } {
  const type = String(body.__type ?? '');
  const Message = String(body.message ?? body.Message ?? type);
  if (type === CONDITIONAL_CHECK_FAILED) {
    return { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
  }
  if (type.endsWith('#ValidationException')) return { Code: 'ValidationError', Message };
  if (type.endsWith('#ResourceNotFoundException')) return { Code: 'ResourceNotFound', Message };
  return { Code: 'InternalServerError', Message };
}

type WriteBody = Record<string, unknown> & { ReturnValuesOnConditionCheckFailure?: unknown };

/** The write's JSON body, or undefined when it is not an object (dynalite then reports it). */
function parseWrite(bytes: Buffer): WriteBody | undefined {
  try {
    const body: unknown = JSON.parse(bytes.toString('utf8'));
    return body && typeof body === 'object' && !Array.isArray(body)
      ? (body as WriteBody)
      : undefined;
  } catch {
    return undefined;
  }
}

async function readBytes(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(stream: IncomingMessage): Promise<unknown> {
  const text = (await readBytes(stream)).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}
