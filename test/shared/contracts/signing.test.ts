import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signRequest, verifyRequest } from '../../../shared/contracts/signing.ts';

const key = { id: 'k1', secret: 'node-secret' };
const nowMs = 1_767_225_600_000;

/** CONTRACTS §4, from first principles. */
const expected = (method: string, path: string, body: string) => {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const canonical = `${nowMs / 1000}\n${method}\n${path}\n${bodyHash}`;
  return `v1=${createHmac('sha256', key.secret).update(canonical).digest('hex')}`;
};

describe('signRequest', () => {
  it('signs an empty body with the hash of the empty string, as any other body', () => {
    for (const [method, path, body] of [
      ['GET', '/v1/health', ''],
      ['DELETE', '/v1/stores/ws-1', ''],
      ['POST', '/v1/stores:apply', '{"ensure":["ws-1"],"remove":[]}'],
      ['GET', '/v1/health', ''],
    ] as const) {
      const headers = signRequest(key, method, path, body, nowMs);
      expect(headers['X-Signature']).toBe(expected(method, path, body));
      const lower = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]),
      );
      expect(verifyRequest({ current: key }, lower, method, path, body, nowMs)).toEqual({
        ok: true,
        keyId: 'k1',
      });
    }
  });
});
