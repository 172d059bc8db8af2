// The DynamoDB servers a data-layer test can run against: the in-process dynalite emulator the
// local stack uses, and AWS's DynamoDB Local, the fidelity reference. A suite written once
// against `DynamoTarget` runs on both:
//
//   describeEachDynamoTarget((target) => {
//     let ddb: DynamoEndpoint;
//     beforeAll(async () => { ddb = await target.start(); }, DYNAMO_START_TIMEOUT_MS);
//     afterAll(() => ddb.stop());
//     it('...', async () => { const client = localDynamoDb(ddb.url); ... });
//   });
import { randomUUID } from 'node:crypto';
import { describe, inject } from 'vitest';
import { startDynamoDbEmulator } from '../../local/emulators/dynamodb.ts';

export type DynamoTargetName = 'dynalite' | 'dynamodb-local';

export interface DynamoEndpoint {
  url: string;
  stop(): Promise<void>;
}

export interface DynamoTarget {
  name: DynamoTargetName;
  /** False when the target cannot run on this machine; `unavailableReason` says why. */
  available: boolean;
  unavailableReason?: string;
  /**
   * dynalite: a fresh in-process emulator per call, empty. dynamodb-local: the server shared by
   * the whole vitest run (its `stop` does nothing), so tables must have unique names
   * (`uniqueTableName`): other test files use it at the same time. The first start of a run
   * waits for the JVM (seconds; tens of seconds on a loaded machine): give the hook calling
   * it `DYNAMO_START_TIMEOUT_MS`.
   */
  start(): Promise<DynamoEndpoint>;
}

const dynalite: DynamoTarget = {
  name: 'dynalite',
  available: true,
  start: () => startDynamoDbEmulator(),
};

function dynamoDbLocalTarget(): DynamoTarget {
  const provided = inject('dynamoDbLocal');
  if (!provided || 'unavailable' in provided) {
    const unavailableReason =
      provided?.unavailable ??
      'vitest globalSetup test/support/dynamodb-global-setup.ts is not configured';
    return {
      name: 'dynamodb-local',
      available: false,
      unavailableReason,
      start: () => Promise.reject(new Error(`DynamoDB Local unavailable: ${unavailableReason}`)),
    };
  }
  // Asked as soon as a test file imports this module, so the JVM starts while the file's
  // dynalite tests run. The rejection is handled here and re-raised by start().
  const url = fetch(provided.broker, { signal: AbortSignal.timeout(120_000) })
    .then((res) => res.json() as Promise<{ url?: string; error?: string }>)
    .then((body) => {
      if (!body.url) throw new Error(`DynamoDB Local did not start: ${body.error}`);
      return body.url;
    });
  url.catch(() => undefined);
  return {
    name: 'dynamodb-local',
    available: true,
    start: async () => ({ url: await url, stop: async () => undefined }),
  };
}

/** A hook timeout covering a DynamoDB Local start on a busy machine. */
export const DYNAMO_START_TIMEOUT_MS = 150_000;

export const dynamoTargets: DynamoTarget[] = [dynalite, dynamoDbLocalTarget()];

/**
 * One `describe` per target, named after it; a target that cannot run here is reported as
 * skipped (the reason is printed once by the global setup) rather than silently missing.
 */
export function describeEachDynamoTarget(body: (target: DynamoTarget) => void): void {
  for (const target of dynamoTargets) {
    describe.skipIf(!target.available)(target.name, () => body(target));
  }
}

/** A valid table name no other test file (sharing DynamoDB Local) will use. */
export function uniqueTableName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
