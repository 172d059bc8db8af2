import { describe, expect, it } from 'vitest';
import { applyBatches, planKind } from '../../../shared/domain/convergence-plan.ts';
import { truncate } from '../../../shared/domain/records.ts';

const now = new Date('2026-11-22T10:00:00.000Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();

describe('planKind', () => {
  const base = {
    desired: new Map([
      ['a', 'a'],
      ['b', 'b'],
    ]),
    deleted: new Set(['gone']),
    now,
    graceMs: 60 * 60_000,
  };

  it('ensures what is missing and removes known deletes at once', () => {
    expect(planKind({ ...base, actual: new Set(['a', 'gone']), orphansSeen: {} })).toEqual({
      ensure: ['b'],
      remove: ['gone'],
      orphans: {},
    });
  });

  it('removes an orphan only after the grace period', () => {
    const first = planKind({ ...base, actual: new Set(['a', 'b', 'stray']), orphansSeen: {} });
    expect(first).toEqual({ ensure: [], remove: [], orphans: { stray: now.toISOString() } });
    const before = planKind({
      ...base,
      actual: new Set(['a', 'b', 'stray']),
      orphansSeen: { stray: minutesAgo(59) },
    });
    expect(before.remove).toEqual([]);
    expect(before.orphans).toEqual({ stray: minutesAgo(59) });
    const after = planKind({
      ...base,
      actual: new Set(['a', 'b', 'stray']),
      orphansSeen: { stray: minutesAgo(60) },
    });
    expect(after).toEqual({ ensure: [], remove: ['stray'], orphans: {} });
  });

  it('forgets an orphan that disappeared or became desired', () => {
    const plan = planKind({
      ...base,
      actual: new Set(['a', 'b']),
      orphansSeen: { a: minutesAgo(5), x: minutesAgo(5) },
    });
    expect(plan.orphans).toEqual({});
  });
});

describe('applyBatches', () => {
  it('puts removals first and at most 1,000 ids in a request', () => {
    const ensure = Array.from({ length: 2500 }, (_, i) => `e${i}`);
    const batches = applyBatches({ ensure, remove: ['r1', 'r2'] });
    expect(batches.map((b) => b.ensure.length + b.remove.length)).toEqual([1000, 1000, 502]);
    expect(batches[0]?.remove).toEqual(['r1', 'r2']);
    expect(batches.flatMap((b) => b.ensure)).toEqual(ensure);
  });

  it('fills each request in order, removals running over into the ensures', () => {
    const batches = applyBatches(
      { ensure: ['e1', 'e2', 'e3'], remove: ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'] },
      3,
    );
    expect(batches).toEqual([
      { remove: ['r1', 'r2', 'r3'], ensure: [] },
      { remove: ['r4', 'r5', 'r6'], ensure: [] },
      { remove: ['r7'], ensure: ['e1', 'e2'] },
      { remove: [], ensure: ['e3'] },
    ]);
  });

  it('sends nothing when nothing drifted', () => {
    expect(applyBatches({ ensure: [], remove: [] })).toEqual([]);
  });
});

describe('truncate', () => {
  it('cuts summaries to 4,000 characters', () => {
    expect(truncate('x'.repeat(5000))).toHaveLength(4000);
    expect(truncate('short')).toBe('short');
  });
});
