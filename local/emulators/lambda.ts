// Lambda's Invoke (REST-JSON: POST /2015-03-31/functions/{name}/invocations), so that tools
// such as `shardctl reconcile now` or `aws lambda invoke` run a local function once, through
// the same pool its events use.
import type { InvokeResult } from '../runtime/lambda-pool.ts';
import { parseBody, type RestEndpoint, RestError, startRestEndpoint } from './rest.ts';

export interface LambdaEmulatorOptions {
  port?: number;
  /** The local function a name, physical name or ARN refers to, if any. */
  resolve(name: string): string | undefined;
  invoke(functionName: string, event: unknown): Promise<InvokeResult>;
}

export function startLambdaEmulator(opts: LambdaEmulatorOptions): Promise<RestEndpoint> {
  return startRestEndpoint(opts.port ?? 0, async (req, body) => {
    const raw = /^\/2015-03-31\/functions\/([^/?]+)\/invocations/.exec(req.url ?? '')?.[1];
    if (!raw || req.method !== 'POST')
      throw new RestError(
        404,
        'UnknownOperationException',
        `no operation at ${req.method} ${req.url}`,
      );
    const name = decodeURIComponent(raw);
    const fn = opts.resolve(name.split(':function:').pop()?.split(':')[0] ?? name);
    if (!fn) throw new RestError(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    const event = parseBody(body);
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'DryRun') return { status: 204 };
    if (type === 'Event') {
      // Asynchronous: accepted now; the outcome only shows in the function's logs.
      void opts.invoke(fn, event).catch(() => undefined);
      return { status: 202 };
    }
    const outcome = await opts.invoke(fn, event);
    const headers = { 'x-amz-executed-version': '$LATEST' };
    if (outcome.ok) return { status: 200, body: outcome.result ?? null, headers };
    return {
      status: 200,
      body: outcome.error,
      headers: { ...headers, 'x-amz-function-error': 'Unhandled' },
    };
  });
}
