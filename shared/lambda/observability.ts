// The one place that creates the Powertools logger and metrics; handlers import them, domain
// code and adapters never do (they take callbacks instead). No Powertools Tracer: the X-Ray SDK
// it needs is ~117 KB of bundle (measured with `npm run bench -- bundles`); functions keep
// X-Ray active tracing, which records each invocation without instrumenting the SDK clients.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger();
export const metrics = new Metrics();

export { MetricUnit } from '@aws-lambda-powertools/metrics';
