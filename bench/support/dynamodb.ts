// DynamoDB helpers of the benchmarks: request counting by operation (SDK middleware) and fast
// seeding (test/support/table.ts).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export { batchWrite } from '../../test/support/table.ts';

/** Counts every DynamoDB API call the client sends, by operation. */
export function countRequests(client: DynamoDBClient) {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.set(op, (counts.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchRequestCounter' },
  );
  return {
    reset: () => counts.clear(),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    byOperation: () => Object.fromEntries(counts),
  };
}
