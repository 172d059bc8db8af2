// DynamoDB emulator: dynalite 4 in-process (in-memory), with Time to Live configuration
// answered in front of it: dynalite has no UpdateTimeToLive and always describes TTL as
// DISABLED, while the stack enables TTL on its table. TTL expiry itself is not emulated.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export interface DynamoDbEmulator {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const UPDATE_TTL = 'DynamoDB_20120810.UpdateTimeToLive';
const DESCRIBE_TTL = 'DynamoDB_20120810.DescribeTimeToLive';

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

export async function startDynamoDbEmulator(
  opts: { port?: number } = {},
): Promise<DynamoDbEmulator> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const ttl = new Map<string, TtlSetting>();
  let port = 0;

  // Asks dynalite itself for the table, reusing the caller's auth headers (dynalite checks
  // their shape, not signatures), so missing tables fail exactly as dynalite reports them.
  const describeTable = (req: IncomingMessage, tableName: string) =>
    new Promise<{ CreationDateTime: number }>((resolve, reject) => {
      const payload = JSON.stringify({ TableName: tableName });
      const inner = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          agent: false,
          headers: {
            authorization: req.headers.authorization ?? '',
            'x-amz-date': req.headers['x-amz-date'] ?? '',
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': 'DynamoDB_20120810.DescribeTable',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          readJson(res).then((body) => {
            if (res.statusCode === 200) {
              resolve((body as { Table: { CreationDateTime: number } }).Table);
            } else {
              reject(new DynamoError(res.statusCode ?? 500, body as Record<string, unknown>));
            }
          }, reject);
        },
      );
      inner.on('error', reject);
      inner.end(payload);
    });

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

  const [dynaliteHandler] = server.listeners('request') as Array<
    (req: IncomingMessage, res: ServerResponse) => void
  >;
  if (!dynaliteHandler) throw new Error('dynalite registered no request handler');
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = req.headers['x-amz-target'];
    if (target !== UPDATE_TTL && target !== DESCRIBE_TTL) {
      dynaliteHandler.call(server, req, res);
      return;
    }
    handleTtl(req, target).then(
      (result) => send(res, 200, result),
      (err: unknown) => {
        if (err instanceof DynamoError) send(res, err.status, err.body);
        else if (err instanceof SyntaxError) {
          send(res, 400, { __type: 'com.amazon.coral.service#SerializationException' });
        } else send(res, 500, { __type: 'com.amazon.coral.service#InternalFailure' });
      },
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
    stop: () =>
      new Promise<void>((resolve, reject) => {
        // dynalite's close also closes its store once the listener has stopped.
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function readJson(stream: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
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
