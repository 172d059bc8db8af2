// Emulators on their own thread (see threaded.ts): the same servers as in-process, so the
// functions talk to them over HTTP exactly as before. The thread serves one set at a time and
// outlives it: { start: specs } -> { started: [{ url, port }] } or { error }; 'stop' ->
// { stopped: true }, after which the next start gets fresh emulators (no state carries over).
import { parentPort } from 'node:worker_threads';
import { startDynamoDbEmulator } from './dynamodb.ts';
import { startSqsEmulator } from './sqs.ts';
import { startSsmEmulator } from './ssm.ts';
import type { EmulatorSpec } from './threaded.ts';

const start = (spec: EmulatorSpec) => {
  switch (spec.kind) {
    case 'sqs':
      return startSqsEmulator({ port: spec.port });
    case 'dynamodb':
      return startDynamoDbEmulator({ port: spec.port });
    case 'ssm':
      return startSsmEmulator({ port: spec.port });
  }
};

type Running = Awaited<ReturnType<typeof start>>;
let running: Running[] = [];

parentPort?.on('message', async (message: 'stop' | { start: EmulatorSpec[] }) => {
  if (message === 'stop') {
    await Promise.all(running.splice(0).map((e) => e.stop()));
    parentPort?.postMessage({ stopped: true });
    return;
  }
  const started = await Promise.allSettled(message.start.map(start));
  running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(running.splice(0).map((e) => e.stop()));
    parentPort?.postMessage({ error: String((failed.reason as Error)?.message ?? failed.reason) });
    return;
  }
  parentPort?.postMessage({ started: running.map((e) => ({ url: e.url, port: e.port })) });
});
