import type { ShardConvergeMessage } from '../../shared/contracts/messages.ts';
import { CONVERGENCE_NODE_PARALLELISM, convergeShard } from '../../shared/domain/convergence.ts';
import { DEFAULT_NODE_POLICY } from '../../shared/domain/node-status.ts';
import { roleStrategies } from '../../shared/domain/roles/registry.ts';
import { runtime, stores } from '../../shared/lambda/clients.ts';
import { logger, MetricUnit, metrics } from '../../shared/lambda/observability.ts';
import { createSqsConsumer } from '../../shared/lambda/sqs-consumer.ts';

/** A lease outlives the invocation a little, so a crashed run blocks the shard only briefly. */
const LEASE_MARGIN_MS = 10_000;

// One strategy registry per node agent client (rebuilt only when the configuration changes).
const strategies = new WeakMap<object, ReturnType<typeof roleStrategies>>();
const strategiesFor = (nodeAgent: Parameters<typeof roleStrategies>[0]) => {
  let found = strategies.get(nodeAgent);
  if (!found) {
    found = roleStrategies(nodeAgent);
    strategies.set(nodeAgent, found);
  }
  return found;
};

export const handler = createSqsConsumer<ShardConvergeMessage>({
  accept: ['shard.converge'],
  keyOf: ({ data }) => data.shardId,
  async process({ data }, record, context) {
    const { config, nodeAgent } = await runtime();
    const result = await convergeShard(
      data.shardId,
      record.messageId,
      { stores, strategyFor: strategiesFor(nodeAgent) },
      {
        orphanGraceMs: config.reconcile.orphanGraceSeconds * 1000,
        nodeParallelism: CONVERGENCE_NODE_PARALLELISM,
        leaseMs: context.getRemainingTimeInMillis() + LEASE_MARGIN_MS,
        nodePolicy: {
          ...DEFAULT_NODE_POLICY,
          errorAfterFailures: config.reconcile.errorAfterFailures,
        },
      },
    );
    const fields = {
      messageId: record.messageId,
      shardId: data.shardId,
      reason: data.reason,
      requestedBy: data.requestedBy,
    };
    if (result.outcome === 'unknown_shard') {
      metrics.addMetric('UnknownShardJobs', MetricUnit.Count, 1);
      logger.warn('convergence job for a shard we do not know; acknowledged', fields);
      return;
    }
    metrics.addMetric(
      result.outcome === 'active' ? 'ShardsConverged' : 'ShardsFailed',
      MetricUnit.Count,
      1,
    );
    if (result.failures.length)
      metrics.addMetric('NodeSyncFailures', MetricUnit.Count, result.failures.length);
    logger.info('shard converged', { ...fields, ...result });
  },
});
