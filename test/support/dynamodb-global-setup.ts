// vitest globalSetup: at most ONE DynamoDB Local per vitest run, shared by every test file,
// and started only when a test asks for it (a JVM start costs seconds of CPU that runs of
// unrelated files should not pay). Test workers ask a small HTTP endpoint of this process.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import {
  type DynamoDbLocal,
  dynamoDbLocalUnavailableReason,
  startDynamoDbLocal,
} from './dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where workers get the shared DynamoDB Local URL, or why it cannot run here. */
    dynamoDbLocal: { broker: string } | { unavailable: string };
  }
}

export default async function setup(project: TestProject) {
  const reason = dynamoDbLocalUnavailableReason();
  if (reason) {
    // CI installs Java and the jar: a silent skip there would hide a broken setup.
    if (process.env.DYNAMODB_LOCAL_REQUIRED === '1') {
      throw new Error(`DynamoDB Local is required (DYNAMODB_LOCAL_REQUIRED=1) but ${reason}`);
    }
    console.warn(`[dynamodb-targets] DynamoDB Local tests are skipped: ${reason}`);
    project.provide('dynamoDbLocal', { unavailable: reason });
    return;
  }

  let started: Promise<DynamoDbLocal> | undefined;
  const broker = createServer((req, res) => {
    started ??= startDynamoDbLocal().then((local) => {
      console.log(`[dynamodb-targets] DynamoDB Local ready at ${local.url} in ${local.startMs} ms`);
      return local;
    });
    // A failed start is remembered: every file then reports the same cause at once.
    started.then(
      (local) => res.end(JSON.stringify({ url: local.url })),
      (err: Error) => res.end(JSON.stringify({ error: err.message })),
    );
    req.resume();
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  const { port } = broker.address() as AddressInfo;
  project.provide('dynamoDbLocal', { broker: `http://127.0.0.1:${port}` });

  return async () => {
    broker.closeAllConnections();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (started)
      await started.then(
        (local) => local.stop(),
        () => undefined,
      );
  };
}
