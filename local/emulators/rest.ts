// A small HTTP server for the local endpoints of AWS REST-JSON services (Scheduler, Lambda):
// listen, read a JSON body, answer with AWS's error shape.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RestEndpoint {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** An error the caller should see as AWS sends it: `x-amzn-errortype` plus a message. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export type RestHandler = (
  req: IncomingMessage,
  body: Buffer,
) => Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;

export async function startRestEndpoint(port: number, handler: RestHandler): Promise<RestEndpoint> {
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        const out = await handler(req, Buffer.concat(chunks));
        send(res, out.status, out.body, out.headers);
      } catch (error) {
        const e =
          error instanceof RestError
            ? error
            : new RestError(500, 'InternalServerException', String(error));
        send(
          res,
          e.status,
          { Message: e.message, message: e.message },
          {
            'x-amzn-errortype': e.type,
          },
        );
      }
    })();
  });
  // Keep-alive sockets would otherwise hold stop() open until the client lets go.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new RestError(400, 'ValidationException', 'Malformed JSON body');
  }
}

function send(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const text = payload === undefined ? '' : JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomBytes(16).toString('hex'),
    ...headers,
  });
  res.end(text);
}
