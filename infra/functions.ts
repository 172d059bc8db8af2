import { join } from 'node:path';
import type { QueueName } from '../shared/contracts/names.ts';
import type { IndexName } from '../shared/store/schema.ts';
import { PROJECT_ROOT } from './paths.ts';

/** One SQS-consumed function. Adding a consumer = one entry here + `functions/<name>/handler.ts`. */
export interface ConsumerDefinition {
  readonly functionName: string;
  readonly queue: QueueName;
  readonly timeoutSeconds: number;
  readonly memorySize?: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds?: number;
  readonly maxConcurrency?: number;
  /** State table GSIs the function queries (least privilege: none unless listed). */
  readonly tableIndexes?: readonly IndexName[];
}

export const CONSUMERS: readonly ConsumerDefinition[] = [
  // maxConcurrency 5 keeps the Citrus register/fetch rate bounded.
  {
    functionName: 'shard-creation',
    queue: 'shard-creation',
    timeoutSeconds: 60,
    memorySize: 512,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
    maxConcurrency: 5,
    // Places the workspaces that waited for the location.
    tableIndexes: ['byLocation'],
  },
  {
    functionName: 'workspace-lifecycle',
    queue: 'workspace-lifecycle',
    timeoutSeconds: 60,
    memorySize: 512,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
    maxConcurrency: 10,
    tableIndexes: ['byLocation'],
  },
  // One shard per invocation: a slow shard (many nodes) never delays the others in a batch.
  {
    functionName: 'converge-shard',
    queue: 'convergence',
    timeoutSeconds: 180,
    memorySize: 512,
    batchSize: 1,
    maxConcurrency: 20,
  },
];

export const handlerEntry = (functionName: string, root = PROJECT_ROOT) =>
  join(root, 'functions', functionName, 'handler.ts');
