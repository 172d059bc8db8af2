import type { ShardCreateMessage } from '../../shared/contracts/messages.ts';
import { SharedReads } from '../../shared/domain/pool.ts';
import { createShardForLocation, type ShardLookups } from '../../shared/domain/shard-creation.ts';
import { domainPorts } from '../../shared/lambda/clients.ts';
import { logger, MetricUnit, metrics } from '../../shared/lambda/observability.ts';
import { createSqsConsumer } from '../../shared/lambda/sqs-consumer.ts';

export const handler = createSqsConsumer<ShardCreateMessage, ShardLookups>({
  accept: ['shard.create'],
  keyOf: ({ data }) => `${data.businessId}#${data.locationId}`,
  // The records of one batch look each shard up once.
  batch: () => new SharedReads(),
  async process({ data }, record, _context, lookups) {
    const result = await createShardForLocation(
      data,
      record.messageId,
      await domainPorts(),
      lookups,
    );
    if (result.pendingSync.length > 0) {
      metrics.addMetric('NodePushFailures', MetricUnit.Count, result.pendingSync.length);
    }
    logger.info('business location processed', {
      messageId: record.messageId,
      businessId: data.businessId,
      locationId: data.locationId,
      shardId: result.shardId,
      registered: result.registered,
      nodesInitialised: result.succeeded.length,
      nodesPendingSync: result.pendingSync,
      workspacesPlaced: result.workspacesPlaced,
    });
  },
});
