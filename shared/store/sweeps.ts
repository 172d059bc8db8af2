import { createHash } from 'node:crypto';
import type { SweepState, SweepStateStore, SweepSummary } from '../domain/ports.ts';
import { expiresAt, keys, TTL_ATTRIBUTE, TTL_SECONDS } from './schema.ts';
import type { Table } from './table.ts';

/** Topology digests live in this many items, so a sweep reads them all in one BatchGetItem. */
const TOPOLOGY_CHUNKS = 16;
const chunkOf = (shardId: string) =>
  createHash('sha256').update(shardId).digest()[0]! % TOPOLOGY_CHUNKS;

/** What the reconciliation sweeps remember between runs: the last summary and topology. */
export class Sweeps implements SweepStateStore {
  constructor(private readonly table: Table) {}

  async get(): Promise<SweepState> {
    const last = await this.table.get<SweepState>(keys.sweepLast());
    return {
      sweepCount: last?.sweepCount ?? 0,
      cursor: last?.cursor,
      lastSuccessAt: last?.lastSuccessAt,
    };
  }

  /** The last summary as written (for operators: counts, errors, duration). */
  last() {
    return this.table.get<SweepSummary & { lastSuccessAt?: string }>(keys.sweepLast());
  }

  async writeSummary(summary: SweepSummary) {
    const ok = summary.errors.length === 0;
    const finished = new Date(summary.finishedAt);
    await Promise.all([
      this.table.update(keys.sweepLast(), {
        set: { type: 'sweep', ...summary, ...(ok ? { lastSuccessAt: summary.finishedAt } : {}) },
        remove: summary.cursor ? [] : ['cursor'],
      }),
      this.table.put({
        ...keys.sweepHistory(summary.startedAt),
        type: 'sweep',
        ...summary,
        [TTL_ATTRIBUTE]: expiresAt(finished, TTL_SECONDS.sweepHistory),
      }),
    ]);
  }

  async loadTopologyDigests() {
    const digests = new Map<string, string>();
    const chunks = Array.from({ length: TOPOLOGY_CHUNKS }, (_, i) => keys.topologyChunk(i));
    for (const item of await this.table.batchGet<{ digests?: Record<string, string> }>(chunks))
      for (const [shardId, digest] of Object.entries(item.digests ?? {}))
        digests.set(shardId, digest);
    return digests;
  }

  /** Rewrites only the chunks that hold a changed shard. */
  async saveTopologyDigests(digests: ReadonlyMap<string, string>, changed: readonly string[]) {
    const chunks = new Map<number, Record<string, string>>(
      changed.map((shardId) => [chunkOf(shardId), {}]),
    );
    for (const [shardId, digest] of digests) {
      const chunk = chunks.get(chunkOf(shardId));
      if (chunk) chunk[shardId] = digest;
    }
    await Promise.all(
      [...chunks].map(([chunk, chunkDigests]) =>
        this.table.update(keys.topologyChunk(chunk), {
          set: { type: 'topology', digests: chunkDigests },
        }),
      ),
    );
  }
}
