// Names other systems rely on (queues, local stack ports, SSM parameters, table): shared by
// functions, infra, the local stack and tools. Do not rename them.
import { receiveCountCovering } from '../domain/retry.ts';

export const QUEUES = ['shard-creation', 'workspace-lifecycle', 'convergence'] as const;
export type QueueName = (typeof QUEUES)[number];
export const dlqName = (queue: QueueName) => `${queue}-dlq` as const;
export const SCHEDULE_DLQ = 'reconcile-schedule-dlq';

/**
 * Receives before SQS moves a message to its DLQ, sized so the retry ladder keeps retrying a
 * transient failure for 720 base delays (6 h at 30 s) even on an unlucky draw. In base delays,
 * the ceilings are 1, 2, 4, 8, 16, then 30 for every later step; a delay uniform in [0, c] has
 * mean c/2 and variance c^2/12. 71 delays between 72 receives:
 *   mean     = (1 + 2 + 4 + 8 + 16) / 2 + 66 x 15        = 1005.5
 *   variance = (1 + 4 + 16 + 64 + 256) / 12 + 66 x 75    = 4978.4, sd = 70.6
 *   mean - 4 sd = 723.3 >= 720  (70 delays give 710.4 < 720, so 72 is the smallest count).
 * Expected time to the DLQ (72 delays): 1020.5 base delays, 8.5 h at 30 s; at most 2041
 * (17 h), well inside the source queue's 4-day retention.
 */
export const MAX_RECEIVE_COUNT = receiveCountCovering();
export const DLQ_RETENTION_DAYS = 14;

/** Attributes of a poison message moved to a DLQ (README "Shard creation"). */
export const POISON_ATTRIBUTES = { reason: 'failureReason', at: 'failedAt' } as const;

export const ssmPrefix = (stage: string) => `/shard-control/${stage}`;

/** SSM parameter names below the stage prefix, with their defaults (README "Configuration"). */
export const PARAMETERS = {
  citrusUrl: { name: 'citrus/url', secure: false },
  citrusApiKey: { name: 'citrus/api-key', secure: true },
  citrusTimeoutMs: { name: 'citrus/timeout-ms', secure: false, default: '5000' },
  citrusRetryAttempts: { name: 'citrus/retry-attempts', secure: false, default: '3' },
  nodeSigningKeys: { name: 'node-agent/signing-keys', secure: true },
  nodeTimeoutMs: { name: 'node-agent/timeout-ms', secure: false, default: '3000' },
  orphanGraceSeconds: { name: 'reconcile/orphan-grace-seconds', secure: false, default: '3600' },
  fullVerifyEvery: { name: 'reconcile/full-verify-every', secure: false, default: '12' },
  errorAfterFailures: { name: 'reconcile/error-after-failures', secure: false, default: '5' },
  reconcileEnabled: { name: 'reconcile/enabled', secure: false, default: 'true' },
  // Absent or empty: source reconciliation is off. The token is only read when the url is set.
  sourceUrl: { name: 'source/url', secure: false, optional: true },
  sourceToken: { name: 'source/token', secure: true, optional: true },
  sourceFullSyncEvery: { name: 'source/full-sync-every', secure: false, default: '12' },
  sourceDeleteGraceSeconds: {
    name: 'source/delete-grace-seconds',
    secure: false,
    default: '3600',
  },
  sourceMaxDeletes: { name: 'source/max-deletes', secure: false, default: '100' },
} as const satisfies Record<
  string,
  { name: string; secure: boolean; default?: string; optional?: boolean }
>;
export type ParameterKey = keyof typeof PARAMETERS;

export const tableName = (stage: string) => `shard-control-${stage}`;
/** AWS name of a stage's resource, e.g. a queue: `shard-control-{stage}-{name}`. */
export const physicalName = (stage: string, name: string) => `shard-control-${stage}-${name}`;

/** Environment variables the functions read (set by CDK, or by the local stack). */
export const ENV = {
  stage: 'STAGE',
  tableName: 'TABLE_NAME',
  sourceQueueUrl: 'SOURCE_QUEUE_URL',
  dlqUrl: 'DLQ_URL',
  convergenceQueueUrl: 'CONVERGENCE_QUEUE_URL',
  /** Base of the retry ladder, in seconds: the ceiling of a failed record's first retry delay. */
  retryBaseSeconds: 'RETRY_BASE_SECONDS',
  shardCreationQueueUrl: 'SHARD_CREATION_QUEUE_URL',
  workspaceLifecycleQueueUrl: 'WORKSPACE_LIFECYCLE_QUEUE_URL',
} as const;
/** Default of `RETRY_BASE_SECONDS`: 30 s, so the ladder covers 6 hours. */
export const DEFAULT_RETRY_BASE_SECONDS = 30;
