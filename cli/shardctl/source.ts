// Operator actions on source reconciliation: the last run, a run now, pausing its schedule,
// and the deletions its safety cap held back (list, release).
import { physicalName } from '../../shared/contracts/names.ts';
import { ShardControlProducer } from '../../shared/contracts/producer.ts';
import { heldDeletionMessage } from '../../shared/domain/source-sync.ts';
import { createStores } from '../../shared/store/index.ts';
import { invokeOnce, setScheduleState } from './operations.ts';
import type { Target } from './target.ts';

/** The function and schedule SourceSyncSchedule creates (infra/constructs/source-sync-schedule.ts). */
const SOURCE_SYNC = 'source-sync';

const storesOf = (target: Target) =>
  createStores({ tableName: target.tableName, client: target.dynamodb });

/** The last run's summary: counts by kind of drift, held deletions, duration, asOf, errors. */
export async function sourceLast(target: Target) {
  return storesOf(target).source.last();
}

/** Runs source-sync once and waits for it (Lambda Invoke, in AWS or on the local stack). */
export function syncNow(target: Target, requestedBy: string) {
  const name = physicalName(target.stage, SOURCE_SYNC);
  return invokeOnce(target, name, 'the source sync', 'source last', {
    source: 'shardctl',
    'detail-type': 'Sync now',
    requestedBy,
  });
}

/** Pauses or resumes the source-sync schedule (EventBridge Scheduler; the local stack has one). */
export async function setSourceSchedule(target: Target, action: 'pause' | 'resume') {
  const scheduleName = physicalName(target.stage, SOURCE_SYNC);
  await setScheduleState({ ...target, scheduleName }, action === 'pause' ? 'DISABLED' : 'ENABLED');
  return scheduleName;
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
