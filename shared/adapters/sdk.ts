// What every AWS SDK client of ours is built with.

/** The part of an SDK client this module touches. */
interface SdkClient {
  middlewareStack: { remove(name: string): boolean };
}

/**
 * Takes the SDK's logger middleware off a client: it redacts every request and response for a
 * logger that does nothing unless one is configured, and we log through Powertools. With the
 * client's `cacheMiddleware: true` (each command's middleware resolved once, not per call):
 * about a fifth less CPU per DynamoDB call here (0.67 instead of 0.79-0.99 ms per UpdateItem
 * against a local server, with marshalling in the table rather than the DocumentClient).
 */
export function withoutSdkLogger<C extends SdkClient>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
