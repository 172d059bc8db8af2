// The one place that creates the Powertools logger, metrics and tracer; handlers import them,
// domain code and adapters never do (they take callbacks instead).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer();

export { MetricUnit } from '@aws-lambda-powertools/metrics';
