import { describe, expect, it } from 'vitest';
import { KeyedSerializer, mapSettled } from '../../../shared/domain/pool.ts';
import { backoffMs, retryAfterMs, retryVisibilitySeconds } from '../../../shared/domain/retry.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('KeyedSerializer', () => {
  it('runs the same key in order and different keys concurrently', async () => {
    const serializer = new KeyedSerializer();
    const log: string[] = [];
    const job = (key: string, name: string) =>
      serializer.run(key, async () => {
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
      });
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });

  it('keeps going after a failure', async () => {
    const serializer = new KeyedSerializer();
    const first = serializer.run('a', async () => {
      throw new Error('boom');
    });
    const second = serializer.run('a', async () => 'ok');
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ok');
  });
});

describe('mapSettled', () => {
  it('handles an empty list', async () => {
    await expect(mapSettled([], 4, async () => 1)).resolves.toEqual([]);
  });
});

describe('retry timing', () => {
  it('draws the visibility timeout below a ceiling that doubles with the receive count', () => {
    const top = () => 1 - 1e-9;
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => retryVisibilitySeconds(n, 30, top))).toEqual([
      30, 60, 120, 240, 480, 900, 900,
    ]);
    expect(retryVisibilitySeconds(5, 30, () => 0)).toBe(0);
  });

  it('draws full-jitter backoff below the capped exponential ceiling', () => {
    expect(backoffMs(1, 100, 1000, () => 0.999)).toBe(99);
    expect(backoffMs(4, 100, 1000, () => 0.999)).toBe(799);
    expect(backoffMs(10, 100, 1000, () => 0.999)).toBe(999);
    expect(backoffMs(3, 100, 1000, () => 0)).toBe(0);
  });

  it('parses Retry-After as seconds or a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Sun, 22 Nov 2026 10:00:05 GMT', Date.parse('2026-11-22T10:00:00Z'))).toBe(
      5000,
    );
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
