import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../local/random.ts';
import { MAX_RECEIVE_COUNT } from '../../../shared/contracts/names.ts';
import {
  ladderMoments,
  RETRY_CAP_FACTOR,
  RETRY_COVERAGE_FACTOR,
  RETRY_COVERAGE_SIGMAS,
  receiveCountCovering,
  retryCeilingFactor,
  retryVisibilitySeconds,
} from '../../../shared/domain/retry.ts';

const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const receiveCount = fc.integer({ min: 1, max: 500 });
const base = fc.oneof(fc.constantFrom(0.5, 1, 30), fc.double({ min: 0.1, max: 1000, noNaN: true }));

describe('retry ladder', () => {
  it('doubles the ceiling from one base delay and caps it at 30 base delays', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map(retryCeilingFactor)).toEqual([
      1, 2, 4, 8, 16, 30, 30, 30,
    ]);
    fc.assert(
      fc.property(receiveCount, (n) => {
        const c = retryCeilingFactor(n);
        expect(c).toBeLessThanOrEqual(RETRY_CAP_FACTOR);
        expect(c).toBe(Math.min(RETRY_CAP_FACTOR, 2 ** (n - 1)));
        expect(retryCeilingFactor(n + 1)).toBeGreaterThanOrEqual(c);
      }),
    );
  });

  it('draws whole-second delays within [0, ceiling] (full jitter)', () => {
    fc.assert(
      fc.property(receiveCount, base, draw, (n, b, r) => {
        const ceiling = Math.min(43_200, b * retryCeilingFactor(n));
        const delay = retryVisibilitySeconds(n, b, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
        expect(delay).toBeLessThanOrEqual(RETRY_CAP_FACTOR * b);
      }),
    );
  });

  it('spans the whole range for whole-second ceilings: 0 at the bottom, the ceiling at the top', () => {
    fc.assert(
      fc.property(receiveCount, fc.integer({ min: 1, max: 1440 }), (n, b) => {
        expect(retryVisibilitySeconds(n, b, () => 0)).toBe(0);
        expect(retryVisibilitySeconds(n, b, () => 1 - 1e-9)).toBe(b * retryCeilingFactor(n));
      }),
    );
    // Default base: 30, 60, 120, 240, 480, then 900 s at most.
    expect(
      [1, 2, 3, 4, 5, 6, 50].map((n) => retryVisibilitySeconds(n, 30, () => 1 - 1e-9)),
    ).toEqual([30, 60, 120, 240, 480, 900, 900]);
    // A fractional base still works (0.5 s locally): the first step rounds down to 0 s.
    expect(retryVisibilitySeconds(1, 0.5, () => 0.99)).toBe(0);
    expect(retryVisibilitySeconds(3, 0.5, () => 0.99)).toBe(2);
  });

  it('never exceeds the 12-hour SQS visibility limit', () => {
    expect(retryVisibilitySeconds(10, 10_000, () => 1 - 1e-9)).toBe(43_200);
  });
});

describe('maxReceiveCount sized from the ladder', () => {
  it('sums the moments of uniform delays', () => {
    expect(ladderMoments(0)).toEqual({ mean: 0, variance: 0 });
    const five = ladderMoments(5);
    expect(five.mean).toBe(15.5);
    expect(five.variance).toBeCloseTo(341 / 12, 10);
    const { mean, variance } = ladderMoments(71);
    expect(mean).toBe(15.5 + 66 * 15);
    expect(variance).toBeCloseTo(341 / 12 + 66 * 75, 10);
  });

  it('is the smallest count whose retries cover 720 base delays at mean - 4 sd', () => {
    expect(MAX_RECEIVE_COUNT).toBe(
      receiveCountCovering(RETRY_COVERAGE_FACTOR, RETRY_COVERAGE_SIGMAS),
    );
    expect(MAX_RECEIVE_COUNT).toBe(72);
    const low = (steps: number) => {
      const m = ladderMoments(steps);
      return m.mean - RETRY_COVERAGE_SIGMAS * Math.sqrt(m.variance);
    };
    expect(low(MAX_RECEIVE_COUNT - 1)).toBeGreaterThanOrEqual(RETRY_COVERAGE_FACTOR);
    expect(low(MAX_RECEIVE_COUNT - 2)).toBeLessThan(RETRY_COVERAGE_FACTOR);
  });

  it('grows with the coverage and the margin asked for', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 6 }),
        (coverage, extra, sigmas) => {
          const n = receiveCountCovering(coverage, sigmas);
          expect(receiveCountCovering(coverage + extra, sigmas)).toBeGreaterThanOrEqual(n);
          expect(receiveCountCovering(coverage, sigmas + 1)).toBeGreaterThanOrEqual(n);
          const m = ladderMoments(n - 1);
          expect(m.mean - sigmas * Math.sqrt(m.variance)).toBeGreaterThanOrEqual(coverage);
        },
      ),
      { numRuns: 50 },
    );
  });

  it.each([
    [1, 1],
    [30, 2],
    [0.5, 3],
  ])('keeps retrying for 720 x base in simulated ladders (base %s s)', (b, seed) => {
    // The retries of one message span the delays between its MAX_RECEIVE_COUNT receives.
    const random = seededRandom(seed);
    const runs = 100_000;
    const spans: number[] = [];
    for (let i = 0; i < runs; i++) {
      let total = 0;
      for (let n = 1; n < MAX_RECEIVE_COUNT; n++) total += retryVisibilitySeconds(n, b, random);
      spans.push(total / b);
    }
    spans.sort((x, y) => x - y);
    const mean = spans.reduce((a, s) => a + s, 0) / runs;
    // Whole-second rounding moves the mean by at most half a step at base 0.5 s.
    expect(Math.abs(mean - ladderMoments(MAX_RECEIVE_COUNT - 1).mean)).toBeLessThan(3);
    // Sized at 4 sd below the mean: ~3 in 100,000 ladders fall short of 720 base delays
    // (a normal tail); allow up to 1 in 10,000.
    const short = spans.filter((s) => s < RETRY_COVERAGE_FACTOR).length;
    expect(short / runs).toBeLessThanOrEqual(1e-4);
    // The 1-in-1,000 short ladder (about 3.1 sd below the mean) has room to spare.
    expect(spans[runs / 1000]).toBeGreaterThan(RETRY_COVERAGE_FACTOR + 50);
  });
});
