import type { WorkspaceMessage } from '../../shared/contracts/messages.ts';
import { SharedReads } from '../../shared/domain/pool.ts';
import type { NodeRecord } from '../../shared/domain/records.ts';
import { applyWorkspaceEvent } from '../../shared/domain/workspace-lifecycle.ts';
import { domainPorts } from '../../shared/lambda/clients.ts';
import { logger, MetricUnit, metrics } from '../../shared/lambda/observability.ts';
import { createSqsConsumer } from '../../shared/lambda/sqs-consumer.ts';

export const handler = createSqsConsumer<WorkspaceMessage, SharedReads<NodeRecord[]>>({
  accept: ['workspace.created', 'workspace.deleted'],
  keyOf: ({ data }) => data.workspaceId,
  // The records of one batch read the nodes of each shard once.
  batch: () => new SharedReads(),
  async process(message, record, _context, nodeReads) {
    const result = await applyWorkspaceEvent(message, await domainPorts(), nodeReads);
    const context = {
      messageId: record.messageId,
      type: message.type,
      workspaceId: message.data.workspaceId,
      occurredAt: message.occurredAt,
      outcome: result.outcome,
    };
    if (result.outcome === 'duplicate') {
      metrics.addMetric('DuplicateEventsSkipped', MetricUnit.Count, 1);
      logger.info('already applied and pushed; ignored', context);
      return;
    }
    if (result.outcome === 'stale') {
      metrics.addMetric('StaleEventsIgnored', MetricUnit.Count, 1);
      logger.info('older than the recorded event; ignored', {
        ...context,
        lastEventAt: result.current.lastEventAt,
      });
      return;
    }
    if ('pendingSync' in result && result.pendingSync.length > 0) {
      metrics.addMetric('NodePushFailures', MetricUnit.Count, result.pendingSync.length);
    }
    if (result.outcome === 'pending_placement')
      metrics.addMetric('WorkspacesPendingPlacement', MetricUnit.Count, 1);
    logger.info('workspace event processed', {
      ...context,
      ...('shardId' in result
        ? {
            shardId: result.shardId,
            nodes: result.succeeded.length,
            nodesPendingSync: result.pendingSync,
          }
        : {}),
    });
  },
});
