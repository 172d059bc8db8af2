// Operator actions on source reconciliation: the last run, a run now, pausing its schedule,
// and the deletions its safety cap held back (list, release).
import { PARAMETERS, physicalName } from '../../shared/contracts/names.ts';
import { ShardControlProducer } from '../../shared/contracts/producer.ts';
import { heldDeletionMessage } from '../../shared/domain/source-sync.ts';
import { createStores } from '../../shared/store/index.ts';
import { setScheduleState } from './operations.ts';
import type { Target } from './target.ts';

/** The function and schedule SourceSyncSchedule creates (infra/constructs/source-sync-schedule.ts). */
const SOURCE_SYNC = 'source-sync';

const storesOf = (target: Target) =>
  createStores({ tableName: target.tableName, client: target.dynamodb });

/** The last run's summary: counts by kind of drift, held deletions, duration, asOf, errors. */
export async function sourceLast(target: Target) {
  return storesOf(target).source.last();
}

/**
 * Runs source-sync once. `invoke` is a Lambda-like invoke path (the local stack's, in
 * process); shardctl itself has none, so without one this explains how to trigger a run.
 */
export async function syncNow(
  target: Target,
  invoke?: (functionName: string, event: unknown) => Promise<unknown>,
) {
  if (invoke) return invoke(SOURCE_SYNC, { source: 'shardctl', 'detail-type': 'Sync now' });
  const fn = target.local ? SOURCE_SYNC : physicalName(target.stage, SOURCE_SYNC);
  throw new Error(
    target.local
      ? `the local stack runs ${fn} every SOURCE_SYNC_INTERVAL_SECONDS (default 10); restart it with a shorter interval to sync sooner`
      : `shardctl has no Lambda client: run \`aws lambda invoke --function-name ${fn} --invocation-type Event /dev/null\``,
  );
}

/** Pauses or resumes the source-sync schedule (AWS only; locally, unset the source url). */
export async function setSourceSchedule(target: Target, action: 'pause' | 'resume') {
  if (target.local) {
    throw new Error(
      `the local stack has no Scheduler; delete the SSM parameter ${PARAMETERS.sourceUrl.name} to turn source reconciliation off`,
    );
  }
  await setScheduleState(
    { ...target, scheduleName: physicalName(target.stage, SOURCE_SYNC) },
    action === 'pause' ? 'DISABLED' : 'ENABLED',
  );
  return physicalName(target.stage, SOURCE_SYNC);
}

/** Deletions the safety cap held back, waiting for the operator. */
export async function listHeld(target: Target) {
  return storesOf(target).source.listHeld();
}

/**
 * Sends every held deletion (the workspace.deleted a full snapshot inferred, dated at its
 * asOf, with a deterministic id), then removes the HELD items it sent. Sending first means a
 * crash in between leaves them held and sends them again next time: harmless repeats.
 */
export async function releaseHeld(target: Target, options: { dryRun: boolean }) {
  const { source } = storesOf(target);
  const held = await source.listHeld();
  const messages = held.map(heldDeletionMessage);
  if (options.dryRun || held.length === 0) return { held: held.length, released: 0, messages };
  const producer = new ShardControlProducer({
    sqs: target.sqs,
    queueUrls: { 'workspace-lifecycle': await target.queueUrl('workspace-lifecycle') },
  });
  const { sent, failed } = await producer.sendMany(messages);
  await source.release(sent.map((s) => held[s.index]!.workspaceId));
  return { held: held.length, released: sent.length, failed, messages };
}
