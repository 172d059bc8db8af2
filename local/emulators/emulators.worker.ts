// Emulators on their own thread (see threaded.ts): the same servers as in-process, so the
// functions talk to them over HTTP exactly as before.
import { parentPort, workerData } from 'node:worker_threads';
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

const started = await Promise.allSettled((workerData as EmulatorSpec[]).map(start));
const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
const failed = started.find((s) => s.status === 'rejected');
if (failed) {
  await Promise.all(running.map((e) => e.stop()));
  throw failed.reason;
}
parentPort?.postMessage(running.map((e) => ({ url: e.url, port: e.port })));
parentPort?.once('message', async () => {
  await Promise.all(running.map((e) => e.stop()));
  parentPort?.postMessage({ stopped: true });
});
