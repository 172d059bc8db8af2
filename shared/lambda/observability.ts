// The one place that creates the Powertools logger and metrics; handlers import them, domain
// code and adapters never do (they take callbacks instead). No Powertools Tracer: the X-Ray SDK
// it needs is ~117 KB of bundle (measured with `npm run bench -- bundles`); functions keep
// X-Ray active tracing, which records each invocation without instrumenting the SDK clients.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { mapErrorStack } from './source-maps.ts';

export const logger = new Logger({
  // Runs before Powertools formats an Error (stack and location): logged stacks name the .ts
  // sources although the functions run without `--enable-source-maps` (cold start).
  jsonReplacerFn: (_key, value) => {
    if (value instanceof Error) mapErrorStack(value);
    return value;
  },
});
export const metrics = new Metrics();

/**
 * Maps the stack of an error a handler throws before the Lambda runtime logs it
 * ("Invoke Error"); the runtime's own log lines do not go through the logger.
 */
export const mapStackOnError = (): MiddlewareObj => ({
  onError: (request) => {
    mapErrorStack(request.error);
  },
});

export { MetricUnit } from '@aws-lambda-powertools/metrics';
