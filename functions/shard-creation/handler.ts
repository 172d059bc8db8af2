import { fanOut } from '../../shared/adapters/node-agent-client.ts';
import type { ShardCreateMessage } from '../../shared/contracts/messages.ts';
import { createShardForLocation } from '../../shared/domain/shard-creation.ts';
import { clients, repository } from '../../shared/lambda/clients.ts';
import { logger, MetricUnit, metrics } from '../../shared/lambda/observability.ts';
import { createSqsConsumer } from '../../shared/lambda/sqs-consumer.ts';

/** Nodes initialised at once per record; a shard has a handful, this bounds the odd big one. */
const NODE_PARALLELISM = 8;

export const handler = createSqsConsumer<ShardCreateMessage>({
  accept: ['shard.create'],
  keyOf: ({ data }) => `${data.businessId}#${data.locationId}`,
  async process({ data }, record) {
    const { citrus, nodeAgent } = await clients();
    const result = await createShardForLocation(data, record.messageId, {
      repository,
      citrus,
      pushSchema: (nodes, schema) =>
        fanOut(nodes, NODE_PARALLELISM, (node) => nodeAgent.putSchema(node.endpoint, schema)),
    });
    if (result.nodesPendingSync.length > 0) {
      metrics.addMetric('NodePushFailures', MetricUnit.Count, result.nodesPendingSync.length);
    }
    logger.info('business location processed', {
      messageId: record.messageId,
      businessId: data.businessId,
      locationId: data.locationId,
      shardId: result.shardId,
      registered: result.registered,
      nodesInitialised: result.nodesInitialised.length,
      nodesPendingSync: result.nodesPendingSync,
    });
  },
});
