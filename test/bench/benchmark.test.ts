import { describe, expect, it } from 'vitest';
import { medianBy } from '../../bench/benchmark.ts';

describe('medianBy', () => {
  it('picks the middle item by value, whatever the order', () => {
    const rounds = [{ rate: 140 }, { rate: 95 }, { rate: 151 }];
    expect(medianBy(rounds, (r) => r.rate)).toBe(rounds[0]);
    expect(medianBy([5, 1, 4, 2], (n) => n)).toBe(4);
    expect(() => medianBy([], (n: number) => n)).toThrow('no items');
  });
});
