import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { ENV } from '../../shared/contracts/names.ts';
import { createEnvelope, ShardControlProducer } from '../../shared/contracts/producer.ts';
import { runSweep } from '../../shared/domain/sweep.ts';
import { runtime, stores } from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/env.ts';
import { logger, MetricUnit, mapStackOnError, metrics } from '../../shared/lambda/observability.ts';

/** Paging Citrus stops when less Lambda time than this is left; the next sweep resumes. */
const RESERVE_MS = 15_000;

const producer = new ShardControlProducer({
  queueUrls: { convergence: requireEnv(ENV.convergenceQueueUrl) },
});

export const handler = middy(async (_event: unknown, context: Context) => {
  // Read SSM afresh: an operator who flips the kill switch expects the next sweep to obey.
  const { config, citrus } = await runtime({ fresh: true });
  const result = await runSweep(
    {
      stores,
      citrus,
      remainingMs: () => context.getRemainingTimeInMillis(),
      async enqueue(jobs) {
        const messages = jobs.map((job) =>
          createEnvelope('shard.converge', { ...job, requestedBy: 'reconcile-sweep' }),
        );
        const { failed } = await producer.sendMany(messages);
        return failed.map((f) => jobs[f.index]?.shardId ?? f.id);
      },
    },
    {
      enabled: config.reconcile.enabled,
      fullVerifyEvery: config.reconcile.fullVerifyEvery,
      reserveMs: RESERVE_MS,
    },
  );
  if (result.outcome === 'disabled') {
    logger.warn('reconciliation is disabled (SSM reconcile/enabled = false); sweep skipped');
    metrics.addMetric('SweepsSkipped', MetricUnit.Count, 1);
    return result;
  }
  metrics.addMetric('SweepDuration', MetricUnit.Milliseconds, result.durationMs);
  metrics.addMetric('SweepJobs', MetricUnit.Count, result.jobs);
  metrics.addMetric('SweepErrors', MetricUnit.Count, result.errors.length);
  // The "no successful sweep in 3 intervals" alarm watches this one.
  if (result.errors.length === 0) metrics.addMetric('SweepSucceeded', MetricUnit.Count, 1);
  const log = result.errors.length ? logger.error.bind(logger) : logger.info.bind(logger);
  log('sweep finished', { ...result });
  return result;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(mapStackOnError());
