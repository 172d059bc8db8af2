// The DynamoDB emulator on its own thread, as local/emulators/threaded.ts runs it, posting the
// thread's OS id with its address so that a benchmark can tell the emulator's CPU time apart.
import { parentPort } from 'node:worker_threads';
import { startDynamoDbEmulator } from '../../local/emulators/dynamodb.ts';
import { osThreadId } from './thread-cpu.ts';

const emulator = await startDynamoDbEmulator({});
parentPort?.postMessage({ url: emulator.url, tid: osThreadId() });
parentPort?.once('message', async () => {
  await emulator.stop();
  parentPort?.postMessage({ stopped: true });
});
