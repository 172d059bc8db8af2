// Adapters built from configuration, rebuilt only when the configuration changes (the config
// source returns the same object while the SSM values are unchanged).
import { CitrusClient } from '../adapters/citrus-client.ts';
import { type Config, createConfigSource } from '../adapters/config.ts';
import { fanOut, NodeAgentClient } from '../adapters/node-agent-client.ts';
import { ENV } from '../contracts/names.ts';
import type { DomainPorts } from '../domain/ports.ts';
import { createStores } from '../store/index.ts';
import { requireEnv } from './env.ts';
import { logger, MetricUnit, metrics } from './observability.ts';

/** Nodes pushed to at once per operation; a shard has a handful, this bounds the odd big one. */
const NODE_PARALLELISM = 8;

const loadConfig = createConfigSource({
  stage: requireEnv(ENV.stage),
  maxAgeSeconds: Number(process.env.CONFIG_MAX_AGE_SECONDS ?? 300),
});

export const stores = createStores({ tableName: requireEnv(ENV.tableName) });

export interface Runtime {
  config: Config;
  ports: DomainPorts;
  citrus: CitrusClient;
  nodeAgent: NodeAgentClient;
}

let cached: Runtime | undefined;

export async function domainPorts(): Promise<DomainPorts> {
  return (await runtime()).ports;
}

export async function runtime(read: { fresh?: boolean } = {}): Promise<Runtime> {
  const config = await loadConfig(read);
  if (cached?.config === config) return cached;
  const citrus = new CitrusClient({
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
  });
  const nodes = new NodeAgentClient({
    signingKeys: config.nodeAgent.signingKeys,
    timeoutMs: config.nodeAgent.timeoutMs,
  });
  cached = {
    config,
    citrus,
    nodeAgent: nodes,
    ports: {
      stores,
      citrus,
      agent: nodes,
      fanOut: (targets, operation) =>
        fanOut(targets, NODE_PARALLELISM, (node) => operation(node.endpoint)),
    },
  };
  return cached;
}
