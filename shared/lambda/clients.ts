// Clients built from configuration, rebuilt only when the configuration object changes
// (Powertools Parameters returns the cached object until maxAge passes).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CitrusClient } from '../adapters/citrus-client.ts';
import { type Config, createConfigSource } from '../adapters/config.ts';
import { NodeAgentClient } from '../adapters/node-agent-client.ts';
import { Repository } from '../adapters/repository.ts';
import { ENV } from '../contracts/names.ts';
import { logger, MetricUnit, metrics, tracer } from './observability.ts';
import { requireEnv } from './sqs-consumer.ts';

const loadConfig = createConfigSource({
  stage: requireEnv(ENV.stage),
  maxAgeSeconds: Number(process.env.CONFIG_MAX_AGE_SECONDS ?? 300),
});

export const repository = new Repository({
  tableName: requireEnv(ENV.tableName),
  client: tracer.captureAWSv3Client(new DynamoDBClient({})),
});

export interface Clients {
  config: Config;
  citrus: CitrusClient;
  nodeAgent: NodeAgentClient;
}

let cached: Clients | undefined;

export async function clients(): Promise<Clients> {
  const config = await loadConfig();
  if (cached?.config === config) return cached;
  cached = {
    config,
    citrus: new CitrusClient({
      baseUrl: config.citrus.url,
      apiKey: config.citrus.apiKey,
      timeoutMs: config.citrus.timeoutMs,
      attempts: config.citrus.retryAttempts,
      onCall: (operation, ms, ok) => {
        metrics.addMetric('CitrusLatency', MetricUnit.Milliseconds, ms);
        if (!ok) logger.warn('Citrus call failed', { operation, ms: Math.round(ms) });
      },
      onRetry: (operation, reason, attempt, delayMs) =>
        logger.info('retrying Citrus call', { operation, reason, attempt, delayMs }),
    }),
    nodeAgent: new NodeAgentClient({
      signingKeys: config.nodeAgent.signingKeys,
      timeoutMs: config.nodeAgent.timeoutMs,
    }),
  };
  return cached;
}
