import { createHash } from 'node:crypto';
import type { ConvergeReason } from '../contracts/messages.ts';
import { errorMessage } from './errors.ts';
import { isRetryDue } from './node-status.ts';
import type { ShardTopology, Stores, SweepSummary } from './ports.ts';

export interface SweepSettings {
  enabled: boolean;
  /** Every Nth sweep asks for a full verification of every shard. */
  fullVerifyEvery: number;
  /** Stop paging Citrus when less than this much Lambda time is left. */
  reserveMs: number;
  pageSize?: number;
  clock?: () => Date;
}

export interface SweepPorts {
  stores: Stores;
  citrus: {
    shardHealthPage(
      cursor?: string,
      limit?: number,
    ): Promise<{
      shards: Array<
        ShardTopology & {
          status: string;
          nodes: Array<{ nodeId: string; endpoint: string; healthy?: boolean }>;
        }
      >;
      nextCursor?: string | null;
    }>;
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
 * The reconciliation sweep, level-triggered and cheap when nothing drifted: topology is compared by digest
 * (only changed shards are read), work is found through the sparse `work` index (no scan),
 * and at most one convergence job per shard is sent.
 */
export async function runSweep(ports: SweepPorts, settings: SweepSettings): Promise<SweepResult> {
  if (!settings.enabled) return { outcome: 'disabled' };
  const clock = settings.clock ?? (() => new Date());
  const started = clock();
  const { stores } = ports;
  const state = await stores.sweeps.get();
  const sweepCount = state.sweepCount + 1;
  const fullVerify = sweepCount % settings.fullVerifyEvery === 0;
  const jobs = new Map<string, ConvergeReason>();
  // First reason wins: one job per shard per sweep, whatever else needs it.
  const want = (shardId: string, reason: ConvergeReason) => {
    if (!jobs.has(shardId)) jobs.set(shardId, reason);
  };
  const counts = {
    shardsSeen: 0,
    /** Nodes Citrus listed (the fleet's size, for the operator's status view). */
    nodesSeen: 0,
    shardsChanged: 0,
    nodesJoined: 0,
    nodesDecommissioned: 0,
    nodesPendingSync: 0,
    nodesJoining: 0,
    nodesRetried: 0,
    nodesRecovered: 0,
    nodesFollowedUp: 0,
    shardsFailed: 0,
    workspacesPlaced: 0,
    workspacesStillPending: 0,
  };
  const errors: string[] = [];

  // 1. Topology from Citrus, and which nodes it reports healthy.
  const healthy = new Set<string>();
  let cursor = state.cursor;
  let complete = true;
  try {
    const digests = await stores.sweeps.loadTopologyDigests();
    const changed: string[] = [];
    const verify: string[] = [];
    do {
      const page = await ports.citrus.shardHealthPage(cursor, settings.pageSize ?? 500);
      for (const shard of page.shards) {
        counts.shardsSeen++;
        counts.nodesSeen += shard.nodes.length;
        verify.push(shard.shardId);
        for (const node of shard.nodes)
          if (node.healthy) healthy.add(`${shard.shardId}#${node.nodeId}`);
        const digest = topologyDigest(shard);
        if (digests.get(shard.shardId) === digest) continue;
        const joined = await applyTopology(shard, stores, counts);
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
    if (changed.length) await stores.sweeps.saveTopologyDigests(digests, changed);
    if (fullVerify) for (const shardId of verify) want(shardId, 'verify');
  } catch (error) {
    complete = false;
    errors.push(`topology refresh: ${errorMessage(error)}`);
  }

  // 2. Drift recorded by the handlers and by convergence (sparse index queries, no scan).
  try {
    const now = clock();
    for (const node of await stores.nodes.listNeedingWork('joining')) {
      counts.nodesJoining++;
      want(node.shardId, 'node_joined');
    }
    for (const node of await stores.nodes.listNeedingWork('pending_sync')) {
      counts.nodesPendingSync++;
      want(node.shardId, 'retry');
    }
    // A node in `error` is due when its backoff ends, or at once when Citrus reports it healthy
    // again: the backoff only spares nodes that are still down.
    for (const node of await stores.nodes.listNeedingWork('error')) {
      const back = healthy.has(`${node.shardId}#${node.nodeId}`);
      if (!back && !isRetryDue({ status: 'error', nextAttemptAt: node.nextAttemptAt }, now))
        continue;
      if (await stores.nodes.retryErrored(node.shardId, node.nodeId)) {
        counts.nodesRetried++;
        if (back) counts.nodesRecovered++;
      }
      want(node.shardId, 'retry');
    }
    // Orphans whose grace has ended: the convergence that saw them asked for this follow-up.
    for (const node of await stores.nodes.listNeedingWork('follow_up', now)) {
      counts.nodesFollowedUp++;
      want(node.shardId, 'drift');
    }
    for (const shardId of await stores.shards.listFailed()) {
      counts.shardsFailed++;
      want(shardId, 'retry');
    }
    for (const workspace of await stores.workspaces.listPendingPlacement()) {
      const location = await stores.locations.get(workspace);
      const shardId = location?.status === 'active' ? location.shardId : undefined;
      const eventKey = workspace.lastEventKey;
      if (shardId && (await stores.workspaces.place(workspace.workspaceId, shardId, eventKey))) {
        await stores.resources.putStore(shardId, workspace.workspaceId, 'active', eventKey);
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
  await stores.sweeps.writeSummary(summary);
  return { outcome: 'swept', ...summary };
}

/**
 * Brings the recorded nodes of one shard in line with Citrus: new nodes are recorded
 * `joining`, nodes Citrus no longer lists become `decommissioned`, a node that comes back
 * rejoins. Returns whether any node joined (the shard then needs a convergence).
 */
async function applyTopology(
  shard: ShardTopology,
  stores: Stores,
  counts: { nodesJoined: number; nodesDecommissioned: number },
) {
  const { shardCreated, previous: before } = await stores.shards.recordTopology(shard);
  if (shardCreated) return false;
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
      (await stores.nodes.setMembership(shard.shardId, node.nodeId, 'joining'))
    ) {
      counts.nodesJoined++;
      joined = true;
    }
  }
  for (const node of before) {
    if (!listed.has(node.nodeId) && node.status !== 'decommissioned') {
      if (await stores.nodes.setMembership(shard.shardId, node.nodeId, 'decommissioned')) {
        counts.nodesDecommissioned++;
      }
    }
  }
  return joined;
}
