import { createHash } from 'node:crypto';
import type { ConvergeReason } from '../contracts/messages.ts';
import { errorMessage } from './errors.ts';
import type { ShardTopology, SweepStore, SweepSummary } from './ports.ts';
import { WORK } from './records.ts';

export interface SweepSettings {
  enabled: boolean;
  /** Every Nth sweep asks for a full verification of every shard. */
  fullVerifyEvery: number;
  /** Stop paging Citrus when less than this much Lambda time is left. */
  reserveMs: number;
  historyTtlSeconds: number;
  pageSize?: number;
  clock?: () => Date;
}

export interface SweepPorts {
  store: SweepStore;
  citrus: {
    shardHealthPage(
      cursor?: string,
      limit?: number,
    ): Promise<{ shards: Array<ShardTopology & { status: string }>; nextCursor?: string | null }>;
  };
  /** Sends one shard.converge job per entry; returns the shard ids that could not be sent. */
  enqueue(jobs: ReadonlyArray<{ shardId: string; reason: ConvergeReason }>): Promise<string[]>;
  remainingMs(): number;
}

export type SweepResult = { outcome: 'disabled' } | ({ outcome: 'swept' } & SweepSummary);

/** A shard's topology as one short string: it changes exactly when a node or endpoint does. */
export function topologyDigest(shard: ShardTopology): string {
  const nodes = shard.nodes.map((n) => `${n.nodeId}@${n.endpoint}`).sort();
  return createHash('sha256')
    .update(`${shard.role}\n${nodes.join('\n')}`)
    .digest('base64url')
    .slice(0, 16);
}

/**
 * Flow 3, level-triggered and cheap when nothing drifted: topology is compared by digest
 * (only changed shards are read), work is found through the sparse `work` index (no scan),
 * and at most one convergence job per shard is sent.
 */
export async function runSweep(ports: SweepPorts, settings: SweepSettings): Promise<SweepResult> {
  if (!settings.enabled) return { outcome: 'disabled' };
  const clock = settings.clock ?? (() => new Date());
  const started = clock();
  const { store } = ports;
  const state = await store.getSweepState();
  const sweepCount = state.sweepCount + 1;
  const fullVerify = sweepCount % settings.fullVerifyEvery === 0;
  const jobs = new Map<string, ConvergeReason>();
  // First reason wins: one job per shard per sweep, whatever else needs it.
  const want = (shardId: string, reason: ConvergeReason) => {
    if (!jobs.has(shardId)) jobs.set(shardId, reason);
  };
  const counts = {
    shardsSeen: 0,
    shardsChanged: 0,
    nodesJoined: 0,
    nodesDecommissioned: 0,
    nodesPendingSync: 0,
    nodesJoining: 0,
    nodesRetried: 0,
    shardsFailed: 0,
    workspacesPlaced: 0,
    workspacesStillPending: 0,
  };
  const errors: string[] = [];

  // 1. Topology from Citrus.
  let cursor = state.cursor;
  let complete = true;
  try {
    const digests = await store.loadTopologyDigests();
    const changed: string[] = [];
    const verify: string[] = [];
    do {
      const page = await ports.citrus.shardHealthPage(cursor, settings.pageSize ?? 500);
      for (const shard of page.shards) {
        counts.shardsSeen++;
        verify.push(shard.shardId);
        const digest = topologyDigest(shard);
        if (digests.get(shard.shardId) === digest) continue;
        const joined = await applyTopology(shard, store, counts);
        if (joined) want(shard.shardId, 'node_joined');
        digests.set(shard.shardId, digest);
        changed.push(shard.shardId);
      }
      cursor = page.nextCursor ?? undefined;
      if (cursor && ports.remainingMs() < settings.reserveMs) {
        complete = false;
        break;
      }
    } while (cursor);
    counts.shardsChanged = changed.length;
    if (changed.length) await store.saveTopologyDigests(digests, changed);
    if (fullVerify) for (const shardId of verify) want(shardId, 'verify');
  } catch (error) {
    complete = false;
    errors.push(`topology refresh: ${errorMessage(error)}`);
  }

  // 2. Drift recorded by the handlers and by convergence, through the sparse work index.
  try {
    const now = clock();
    for (const item of await store.listWork(WORK.nodeJoining)) {
      counts.nodesJoining++;
      want(String(item.shardId), 'node_joined');
    }
    for (const item of await store.listWork(WORK.nodePendingSync)) {
      counts.nodesPendingSync++;
      want(String(item.shardId), 'retry');
    }
    for (const item of await store.listWork(WORK.nodeError, now)) {
      if (await store.retryErroredNode(String(item.shardId), String(item.nodeId)))
        counts.nodesRetried++;
      want(String(item.shardId), 'retry');
    }
    for (const item of await store.listWork(WORK.shardFailed)) {
      counts.shardsFailed++;
      want(String(item.shardId), 'retry');
    }
    for (const item of await store.listWork(WORK.workspacePendingPlacement)) {
      const location = await store.getLocation(String(item.businessId), String(item.locationId));
      const shardId = location?.status === 'active' ? location.shardId : undefined;
      const eventKey = String(item.lastEventKey);
      if (shardId && (await store.placeWorkspace(String(item.workspaceId), shardId, eventKey))) {
        await store.putStoreResource(shardId, String(item.workspaceId), 'active', eventKey);
        counts.workspacesPlaced++;
        want(shardId, 'drift');
      } else counts.workspacesStillPending++;
    }
  } catch (error) {
    errors.push(`work index: ${errorMessage(error)}`);
  }

  // 3. Jobs, then the summary.
  const unsent = jobs.size
    ? await ports.enqueue([...jobs].map(([shardId, reason]) => ({ shardId, reason })))
    : [];
  if (unsent.length) errors.push(`${unsent.length} convergence jobs not sent (first ${unsent[0]})`);
  const finished = clock();
  const summary: SweepSummary = {
    sweepCount,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    complete,
    ...(complete ? {} : { cursor }),
    fullVerify,
    counts,
    jobs: jobs.size - unsent.length,
    errors,
  };
  await store.writeSweepSummary(summary, settings.historyTtlSeconds);
  return { outcome: 'swept', ...summary };
}

/**
 * Brings the recorded nodes of one shard in line with Citrus: new nodes are recorded
 * `joining`, nodes Citrus no longer lists become `decommissioned`, a node that comes back
 * rejoins. Returns whether any node joined (the shard then needs a convergence).
 */
async function applyTopology(
  shard: ShardTopology,
  store: SweepStore,
  counts: { nodesJoined: number; nodesDecommissioned: number },
) {
  const known = await store.getShard(shard.shardId);
  const before = known ? await store.listNodes(shard.shardId) : [];
  await store.recordTopology(shard);
  if (!known) return false;
  const listed = new Set(shard.nodes.map((n) => n.nodeId));
  const recorded = new Map(before.map((n) => [n.nodeId, n]));
  let joined = false;
  for (const node of shard.nodes) {
    const previous = recorded.get(node.nodeId);
    if (!previous) {
      counts.nodesJoined++;
      joined = true;
    } else if (
      previous.status === 'decommissioned' &&
      (await store.setNodeMembership(shard.shardId, node.nodeId, 'joining'))
    ) {
      counts.nodesJoined++;
      joined = true;
    }
  }
  for (const node of before) {
    if (!listed.has(node.nodeId) && node.status !== 'decommissioned') {
      if (await store.setNodeMembership(shard.shardId, node.nodeId, 'decommissioned')) {
        counts.nodesDecommissioned++;
      }
    }
  }
  return joined;
}
