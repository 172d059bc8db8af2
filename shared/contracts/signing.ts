// Node agent request signing (docs/node-agent-api.md, "Signing"). Used by the node agent
// client and by the local node agent simulator, so both sides of the API share one definition.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import './zod.ts';

export const SigningKey = z.object({
  id: z.string().check(z.minLength(1)),
  secret: z.string().check(z.minLength(1)),
});
export const SigningKeys = z.object({
  current: SigningKey,
  previous: z.optional(z.extend(SigningKey, { validUntil: z.iso.datetime({ offset: true }) })),
});
export type SigningKey = z.infer<typeof SigningKey>;
export type SigningKeys = z.infer<typeof SigningKeys>;

/** Agents reject timestamps further than this from their clock. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export const SIGNATURE_HEADERS = {
  keyId: 'x-key-id',
  timestamp: 'x-timestamp',
  signature: 'x-signature',
} as const;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
/** Most requests (GETs, DELETEs) have no body: its hash is computed once. */
const EMPTY_BODY_HASH = sha256Hex('');

function canonical(timestamp: string, method: string, pathWithQuery: string, body: string) {
  const bodyHash = body === '' ? EMPTY_BODY_HASH : sha256Hex(body);
  return `${timestamp}\n${method.toUpperCase()}\n${pathWithQuery}\n${bodyHash}`;
}

function hmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

export function signRequest(
  key: SigningKey,
  method: string,
  pathWithQuery: string,
  body: string,
  nowMs = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    'X-Key-Id': key.id,
    'X-Timestamp': timestamp,
    'X-Signature': `v1=${hmac(key.secret, canonical(timestamp, method, pathWithQuery, body))}`,
  };
}

export type VerifyResult = { ok: true; keyId: string } | { ok: false; reason: string };

/** Verifies a signed request against `current` and an unexpired `previous` key. */
export function verifyRequest(
  keys: SigningKeys,
  headers: Record<string, string | string[] | undefined>,
  method: string,
  pathWithQuery: string,
  body: string,
  nowMs = Date.now(),
): VerifyResult {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const keyId = header(SIGNATURE_HEADERS.keyId);
  const timestamp = header(SIGNATURE_HEADERS.timestamp);
  const signature = header(SIGNATURE_HEADERS.signature);
  if (!keyId || !timestamp || !signature) return { ok: false, reason: 'missing signature headers' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: 'timestamp outside the allowed skew' };
  }
  const candidates: SigningKey[] = [keys.current];
  if (keys.previous && Date.parse(keys.previous.validUntil) > nowMs) candidates.push(keys.previous);
  const key = candidates.find((k) => k.id === keyId);
  if (!key) return { ok: false, reason: 'unknown or expired key id' };
  const expected = Buffer.from(
    `v1=${hmac(key.secret, canonical(timestamp, method, pathWithQuery, body))}`,
  );
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'bad signature' };
  }
  return { ok: true, keyId };
}
