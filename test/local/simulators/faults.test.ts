import { describe, expect, it } from 'vitest';
import { faultsFromEnv, parseFaults } from '../../../local/simulators/faults.ts';

describe('faultsFromEnv', () => {
  it('reads the prefixed variables', () => {
    expect(
      faultsFromEnv('NODE', {
        NODE_LATENCY_MS: '50',
        NODE_LATENCY_JITTER_MS: '10',
        NODE_ERROR_RATE: '0.1',
        NODE_TIMEOUT_RATE: '0',
        NODE_DOWN: 'false',
        CITRUS_ERROR_RATE: '1',
      }),
    ).toEqual({ latencyMs: 50, latencyJitterMs: 10, errorRate: 0.1, timeoutRate: 0, down: false });
    expect(faultsFromEnv('CITRUS', { CITRUS_ERROR_RATE: '1', CITRUS_LATENCY_MS: '' })).toEqual({
      errorRate: 1,
    });
    expect(faultsFromEnv('CITRUS', {})).toEqual({});
  });

  it('fails loudly on bad values', () => {
    expect(() => faultsFromEnv('CITRUS', { CITRUS_ERROR_RATE: '1.5' })).toThrow(
      /CITRUS_ERROR_RATE/,
    );
    expect(() => faultsFromEnv('NODE', { NODE_LATENCY_MS: 'slow' })).toThrow(/NODE_LATENCY_MS/);
    expect(() => faultsFromEnv('NODE', { NODE_DOWN: 'yes' })).toThrow(/NODE_DOWN/);
  });
});

describe('parseFaults', () => {
  it('accepts valid faults and rejects bad ones', () => {
    expect(parseFaults({ errorRate: 0.5, down: true })).toEqual({
      ok: true,
      faults: { errorRate: 0.5, down: true },
    });
    expect(parseFaults({ errorRate: -0.1 }).ok).toBe(false);
    expect(parseFaults({ latency: 5 }).ok).toBe(false);
    expect(parseFaults('x').ok).toBe(false);
  });
});
