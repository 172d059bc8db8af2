// The DynamoDB emulator on its own thread: in production DynamoDB is a remote service, so the
// emulator's request handling must not be counted on the function's thread.
import { parentPort } from 'node:worker_threads';
import { startDynamoDbEmulator } from '../../local/emulators/dynamodb.ts';

const emulator = await startDynamoDbEmulator({ port: 0 });
parentPort?.postMessage({ url: emulator.url });
parentPort?.on('message', async () => {
  await emulator.stop();
  parentPort?.postMessage({ stopped: true });
});
