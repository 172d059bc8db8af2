// The worked signing example of docs/node-agent-api.md is checked against the code: the values
// are read from the page, so the page cannot drift from what the client signs and the agents
// (here the simulator) accept.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startNodeAgent } from '../../local/simulators/node-agent.ts';
import {
  MAX_CLOCK_SKEW_SECONDS,
  type SigningKeys,
  signRequest,
  verifyRequest,
} from '../../shared/contracts/signing.ts';

const DOC = readFileSync(new URL('../../docs/node-agent-api.md', import.meta.url), 'utf8');

/** The fenced block right after `<!-- signing-example:<name> -->`. */
function block(name: string): string {
  const marker = `<!-- signing-example:${name} -->`;
  const at = DOC.indexOf(marker);
  if (at < 0) throw new Error(`docs/node-agent-api.md has no ${marker}`);
  const match = /^\s*```[^\n]*\n([\s\S]*?)\n```/.exec(DOC.slice(at + marker.length));
  if (!match?.[1]) throw new Error(`no fenced block after ${marker}`);
  return match[1];
}

/** `name: value` lines; the value is everything after the first ': '. */
function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 2);
  }
  return out;
}

const inputs = fields(block('inputs'));
const key = { id: inputs['key id']!, secret: inputs.secret! };
const timestamp = inputs.timestamp!;
const method = inputs.method!;
const path = inputs.path!;
const body = inputs.body!;
const nowMs = Number(timestamp) * 1000;
const documentedHeaders = fields(block('headers'));

describe('docs/node-agent-api.md worked signing example', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('has every input', () => {
    expect(Object.keys(inputs).sort()).toEqual(
      ['body', 'key id', 'method', 'path', 'secret', 'timestamp'].sort(),
    );
    expect(timestamp).toMatch(/^\d+$/);
  });

  it('documents the body hash and the canonical string the code signs', () => {
    const bodyHash = createHash('sha256').update(body).digest('hex');
    expect(block('body-sha256')).toBe(bodyHash);

    const canonical = block('canonical');
    expect(canonical).toBe([timestamp, method, path, bodyHash].join('\n'));
    // signing.ts keeps its canonical string private: an HMAC of the documented string that
    // equals the code's signature shows the two strings are the same.
    const signed = signRequest(key, method, path, body, nowMs);
    const ofDocumented = createHmac('sha256', key.secret).update(canonical).digest('hex');
    expect(signed['X-Signature']).toBe(`v1=${ofDocumented}`);
  });

  it('documents the headers the code produces', () => {
    expect(signRequest(key, method, path, body, nowMs)).toEqual(documentedHeaders);
  });

  it('verifies within the documented 300 s of skew, and with a previous key until validUntil', () => {
    expect(MAX_CLOCK_SKEW_SECONDS).toBe(300);
    const asCurrent: SigningKeys = { current: key };
    const headers = Object.fromEntries(
      Object.entries(documentedHeaders).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const verify = (keys: SigningKeys, at: number) =>
      verifyRequest(keys, headers, method, path, body, at);
    expect(verify(asCurrent, nowMs)).toEqual({ ok: true, keyId: key.id });
    expect(verify(asCurrent, nowMs + 300_000).ok).toBe(true);
    expect(verify(asCurrent, nowMs - 300_000).ok).toBe(true);
    expect(verify(asCurrent, nowMs + 301_000)).toEqual({
      ok: false,
      reason: 'timestamp outside the allowed skew',
    });

    const validUntil = new Date(nowMs + 60_000).toISOString();
    const asPrevious: SigningKeys = {
      current: { id: 'other', secret: 'other-secret' },
      previous: { ...key, validUntil },
    };
    expect(verify(asPrevious, nowMs)).toEqual({ ok: true, keyId: key.id });
    expect(verify(asPrevious, nowMs + 60_000)).toEqual({
      ok: false,
      reason: 'unknown or expired key id',
    });
  });

  it('is accepted by the node agent simulator, with the documented answer', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(nowMs + 120_000);
    const node = await startNodeAgent({ nodeId: 'doc-node', signingKeys: { current: key } });
    try {
      const send = (headers: Record<string, string>) =>
        fetch(`${node.url}${path}`, {
          method,
          headers: { ...headers, 'content-type': 'application/json' },
          body,
        });
      const accepted = await send(documentedHeaders);
      expect(accepted.status).toBe(200);
      expect(await accepted.text()).toBe(block('answer'));

      const tampered = await send({
        ...documentedHeaders,
        'X-Signature': `v1=${'0'.repeat(64)}`,
      });
      expect(tampered.status).toBe(401);
      expect(await tampered.json()).toEqual({ error: 'unauthorized: bad signature' });
    } finally {
      await node.stop();
    }
  });
});
