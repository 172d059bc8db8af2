// `shardctl status`: the fleet at a glance, from cheap reads only: the sparse `work` index
// (what needs attention), the last sweep's counts (the fleet's size), queue attributes, the
// schedule and the kill switch. No table scan, whatever the fleet's size.
import { QUEUES } from '../../shared/contracts/names.ts';
import type { NodeRecord } from '../../shared/domain/records.ts';
import { FleetStatus, type WorkList } from '../../shared/store/fleet-status.ts';
import { DLQS, oldestSampledAge, queueDepth } from './dlq.ts';
import { reconcileEnabled, scheduleState, storesOf } from './operations.ts';
import type { Target } from './target.ts';

const pick = <T extends object, K extends keyof T>(list: WorkList<T>, fields: K[]) => ({
  count: list.count,
  items: list.items.map((item) => Object.fromEntries(fields.map((f) => [f, item[f]]))),
});

const NODE_FIELDS: Array<keyof NodeRecord> = [
  'shardId',
  'nodeId',
  'status',
  'consecutiveFailures',
  'lastError',
  'nextAttemptAt',
  'lastAttemptAt',
  'lastSyncAt',
];

async function queues(target: Target) {
  const now = Date.now();
  return Promise.all(
    [...QUEUES, ...DLQS].map(async (name) => {
      const dlq = (DLQS as readonly string[]).includes(name);
      const depth = await queueDepth(target, name);
      const queued = depth.visible + depth.inFlight + depth.delayed;
      const oldest = dlq && queued > 0 ? await oldestSampledAge(target, name, now) : undefined;
      return {
        ...depth,
        dlq,
        oldestAgeSeconds: oldest?.seconds ?? null,
        // A lower bound when more messages wait than were sampled.
        oldestAgeExact: oldest ? oldest.sampled >= queued : null,
      };
    }),
  );
}

/** What a status read could not get is reported in place, so the rest still shows. */
const orError = <T>(promise: Promise<T>) =>
  promise.catch((error: unknown) => ({
    error: error instanceof Error ? error.message : String(error),
  }));

export async function fleetStatus(target: Target, options: { limit: number }) {
  const stores = storesOf(target);
  const [work, lastSweep, queueList, schedule, enabled] = await Promise.all([
    new FleetStatus(stores.table).needingWork(options.limit),
    stores.sweeps.last(),
    queues(target),
    orError(scheduleState(target)),
    reconcileEnabled(target),
  ]);
  const counts: Record<string, number | undefined> = lastSweep?.counts ?? {};
  return {
    stage: target.stage,
    at: new Date().toISOString(),
    shards: {
      // The last sweep's view of the fleet's size; failures are read live.
      known: counts.shardsSeen ?? null,
      failed: pick(work.shards.failed, ['shardId', 'role', 'lastError', 'updatedAt']),
    },
    nodes: {
      known: counts.nodesSeen ?? null,
      joining: pick(work.nodes.joining, NODE_FIELDS),
      pending_sync: pick(work.nodes.pending_sync, NODE_FIELDS),
      error: pick(work.nodes.error, NODE_FIELDS),
    },
    workspaces: {
      pending_placement: pick(work.workspaces.pending_placement, [
        'workspaceId',
        'businessId',
        'locationId',
        'lastEventAt',
      ]),
    },
    queues: queueList,
    lastSweep: lastSweep
      ? {
          sweepCount: lastSweep.sweepCount,
          finishedAt: lastSweep.finishedAt,
          ageSeconds: Math.round((Date.now() - Date.parse(lastSweep.finishedAt)) / 1000),
          lastSuccessAt: lastSweep.lastSuccessAt,
          complete: lastSweep.complete,
          jobs: lastSweep.jobs,
          errors: lastSweep.errors,
          counts,
        }
      : null,
    reconcile: { schedule, enabled },
  };
}
