// The local endpoints of AWS REST-JSON services (Scheduler, Lambda): a JSON body in, AWS's
// error shape out (`x-amzn-errortype` plus a message), on the simulators' small HTTP server.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { listen, type RunningServer, readBody, sendJson } from '../simulators/http.ts';

export type RestEndpoint = RunningServer;

/** An error the caller should see as AWS sends it. */
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
  body: string,
) => Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;

export function startRestEndpoint(port: number, handler: RestHandler): Promise<RestEndpoint> {
  return listen(port, async (req, res) => {
    const requestId = { 'x-amzn-requestid': randomBytes(16).toString('hex') };
    try {
      const out = await handler(req, await readBody(req));
      if (out.body === undefined) {
        res.writeHead(out.status, { ...requestId, ...out.headers, 'content-length': 0 });
        res.end();
      } else sendJson(res, out.status, out.body, { ...requestId, ...out.headers });
    } catch (error) {
      const e =
        error instanceof RestError
          ? error
          : new RestError(500, 'InternalServerException', String(error));
      sendJson(
        res,
        e.status,
        { Message: e.message, message: e.message },
        { ...requestId, 'x-amzn-errortype': e.type },
      );
    }
  });
}

export function parseBody(body: string): unknown {
  if (body === '') return {};
  try {
    return JSON.parse(body);
  } catch {
    throw new RestError(400, 'ValidationException', 'Malformed JSON body');
  }
}
