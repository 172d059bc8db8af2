// Pure planning for one node and one resource kind: what to ensure and what to remove.
import { MAX_APPLY_IDS } from '../contracts/node-agent.ts';

export interface KindPlan<Spec> {
  ensure: Spec[];
  remove: string[];
  /** Orphans still waiting out their grace period: id -> first seen (ISO). */
  orphans: Record<string, string>;
}

/**
 * Desired is what must be on the node; `deleted` are known deletes (removed at once);
 * anything else present on the node is an orphan, removed only after `graceMs` of being
 * seen orphaned, because it may belong to an event still in flight.
 */
export function planKind<Spec>(input: {
  desired: ReadonlyMap<string, Spec>;
  deleted: ReadonlySet<string>;
  actual: ReadonlySet<string>;
  orphansSeen: Readonly<Record<string, string>>;
  now: Date;
  graceMs: number;
}): KindPlan<Spec> {
  const ensure: Spec[] = [];
  for (const [id, spec] of input.desired) if (!input.actual.has(id)) ensure.push(spec);
  const remove: string[] = [];
  const orphans: Record<string, string> = {};
  for (const id of input.actual) {
    if (input.desired.has(id)) continue;
    if (input.deleted.has(id)) {
      remove.push(id);
      continue;
    }
    const firstSeen = input.orphansSeen[id] ?? input.now.toISOString();
    if (input.now.getTime() - Date.parse(firstSeen) >= input.graceMs) remove.push(id);
    else orphans[id] = firstSeen;
  }
  return { ensure, remove, orphans };
}

/** Splits a plan into `:apply` requests of at most MAX_APPLY_IDS ids, removals first. */
export function applyBatches<Spec>(
  plan: { ensure: Spec[]; remove: string[] },
  max = MAX_APPLY_IDS,
): Array<{ ensure: Spec[]; remove: string[] }> {
  const { ensure, remove } = plan;
  const removals = remove.length;
  const batches: Array<{ ensure: Spec[]; remove: string[] }> = [];
  // Positions in the removals-then-ensures sequence, sliced out of the two lists directly.
  for (let start = 0; start < removals + ensure.length; start += max) {
    const end = start + max;
    batches.push({
      ensure: ensure.slice(Math.max(0, start - removals), Math.max(0, end - removals)),
      remove: remove.slice(Math.min(start, removals), Math.min(end, removals)),
    });
  }
  return batches;
}
