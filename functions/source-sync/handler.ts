import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { ConfigError, type SourceConfig } from '../../shared/adapters/config.ts';
import { SourceClient } from '../../shared/adapters/source-client.ts';
import { ENV } from '../../shared/contracts/names.ts';
import { ShardControlProducer } from '../../shared/contracts/producer.ts';
import { SOURCE_PAGE_MAX } from '../../shared/contracts/source.ts';
import { runSourceSync } from '../../shared/domain/source-sync-run.ts';
import { runtime, stores } from '../../shared/lambda/clients.ts';
import { requireEnv } from '../../shared/lambda/env.ts';
import { logger, MetricUnit, metrics } from '../../shared/lambda/observability.ts';

/** Listing stops when less Lambda time than this is left; the next run resumes at the cursor. */
const RESERVE_MS = 20_000;

const DRIFT_METRICS = {
  location_missing: 'SourceLocationsMissing',
  workspace_missing: 'SourceWorkspacesMissing',
  workspace_behind: 'SourceWorkspacesBehind',
  workspace_absent: 'SourceWorkspacesAbsent',
} as const;

/** The run found problems it could not repair (listing failed, events not sent). */
class SourceSyncFailedError extends Error {
  override readonly name = 'SourceSyncFailedError';
}

const producer = new ShardControlProducer({
  queueUrls: {
    'shard-creation': requireEnv(ENV.shardCreationQueueUrl),
    'workspace-lifecycle': requireEnv(ENV.workspaceLifecycleQueueUrl),
  },
});

// Rebuilt only when the configuration changes (the config source keeps its identity).
let cached: { config: SourceConfig; client: SourceClient } | undefined;
const clientFor = (config: SourceConfig) => {
  if (cached?.config !== config) {
    const client = new SourceClient({
      baseUrl: config.url,
      token: config.token,
      timeoutMs: config.timeoutMs,
      attempts: config.retryAttempts,
      onCall: (operation, ms, ok) => {
        metrics.addMetric('SourceLatency', MetricUnit.Milliseconds, ms);
        if (!ok) logger.warn('source listing call failed', { operation, ms: Math.round(ms) });
      },
      onRetry: (operation, reason, attempt, delayMs) =>
        logger.info('retrying source listing call', { operation, reason, attempt, delayMs }),
    });
    cached = { config, client };
  }
  return cached.client;
};

export const handler = middy(async (_event: unknown, context: Context) => {
  // Read SSM afresh: an operator who sets or clears source/url expects the next run to obey.
  const { config } = await runtime({ fresh: true });
  const source = config.source;
  if (source.state === 'off') {
    logger.info('source reconciliation is off (SSM source/url is absent or empty); run skipped');
    metrics.addMetric('SourceSyncSkipped', MetricUnit.Count, 1);
    return { outcome: 'disabled' as const };
  }
  if (source.state === 'invalid') {
    metrics.addMetric('SourceSyncFailures', MetricUnit.Count, 1);
    throw new ConfigError(source.reason);
  }
  const summary = await runSourceSync(
    {
      state: stores.source,
      reader: stores.sourceReader,
      source: clientFor(source),
      async send(messages) {
        const { failed } = await producer.sendMany(messages);
        return failed.map((f) => f.id);
      },
      remainingMs: () => context.getRemainingTimeInMillis(),
    },
    {
      fullSyncEvery: source.fullSyncEvery,
      deleteGraceSeconds: source.deleteGraceSeconds,
      maxDeletes: source.maxDeletes,
      reserveMs: RESERVE_MS,
      // Fewer, larger pages: a full snapshot of a large fleet is a few hundred requests.
      pageSize: SOURCE_PAGE_MAX,
    },
  );
  metrics.addMetric('SourceSyncDuration', MetricUnit.Milliseconds, summary.durationMs);
  metrics.addMetric('SourceRepairsSent', MetricUnit.Count, summary.repairsSent);
  for (const [drift, name] of Object.entries(DRIFT_METRICS)) {
    const count = summary.counts[drift as keyof typeof DRIFT_METRICS];
    if (count > 0) metrics.addMetric(name, MetricUnit.Count, count);
  }
  // The deletions-held alarm watches this one (every complete full snapshot reports how many
  // wait for the operator, 0 included, so the alarm clears once they are released).
  if (summary.heldTotal !== undefined)
    metrics.addMetric('SourceDeletionsHeld', MetricUnit.Count, summary.heldTotal);
  if (summary.errors.length > 0) {
    metrics.addMetric('SourceSyncFailures', MetricUnit.Count, 1);
    logger.error('source sync failed', { ...summary });
    // Failing the invocation makes it visible: errors alarm, and the schedule's DLQ.
    throw new SourceSyncFailedError(`source sync failed: ${summary.errors.join('; ')}`);
  }
  // The "no successful source sync in 3 intervals" alarm watches this one.
  metrics.addMetric('SourceSyncSucceeded', MetricUnit.Count, 1);
  if (summary.held > 0) logger.warn('source sync held deletions', { ...summary });
  else logger.info('source sync finished', { ...summary });
  return { outcome: 'synced' as const, ...summary };
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
