// One warm "Lambda sandbox": a worker thread that loads a function module once (cold start)
// and then serves invocations one at a time, like the Lambda runtime interface client.
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { ToParent, ToWorker, WorkerData } from './lambda-protocol.ts';

const data = workerData as WorkerData;
const port = parentPort!;

type Handler = (event: unknown, context: Context) => unknown;

function serializeError(err: unknown): { errorType: string; errorMessage: string; stack?: string } {
  if (err instanceof Error) {
    return { errorType: err.name, errorMessage: err.message, stack: err.stack };
  }
  return { errorType: 'Error', errorMessage: String(err) };
}

const init: Promise<Handler> = (async () => {
  const mod = (await import(pathToFileURL(data.entry).href)) as Record<string, unknown>;
  const handler =
    mod[data.exportName] ?? (mod.default as Record<string, unknown>)?.[data.exportName];
  if (typeof handler !== 'function') {
    throw new Error(`${data.entry} does not export a function named ${data.exportName}`);
  }
  return handler as Handler;
})();
// The parent learns about init failures through the first invocation, as with Lambda.
init.catch(() => undefined);

port.on('message', async (msg: ToWorker) => {
  if (msg.type !== 'invoke') return;
  const context: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: data.functionArn,
    memoryLimitInMB: String(data.memorySize),
    awsRequestId: msg.requestId,
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: data.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let reply: ToParent;
  try {
    const handler = await init;
    const result = await handler(msg.event, context);
    // Lambda returns the JSON serialization of the result; do the same so that results
    // which are not plain data surface here, not later.
    reply = {
      type: 'result',
      id: msg.id,
      ok: true,
      result: result === undefined ? null : JSON.parse(JSON.stringify(result)),
    };
  } catch (err) {
    reply = { type: 'result', id: msg.id, ok: false, error: serializeError(err) };
  }
  port.postMessage(reply);
});

port.postMessage({ type: 'started' } satisfies ToParent);
