import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NodeAgentSimulator, startNodeAgent } from '../../../local/simulators/node-agent.ts';
import { MAX_APPLY_IDS } from '../../../shared/contracts/node-agent.ts';
import {
  type SigningKey,
  type SigningKeys,
  signRequest,
} from '../../../shared/contracts/signing.ts';

const CURRENT: SigningKey = { id: 'key-2', secret: 'current-secret' };
const PREVIOUS: SigningKey = { id: 'key-1', secret: 'previous-secret' };

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  node: NodeAgentSimulator,
  method: string,
  path: string,
  body?: unknown,
  opts: { key?: SigningKey | null; nowMs?: number; rawBody?: string } = {},
): Promise<Reply> {
  const text = opts.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
  const key = opts.key === undefined ? CURRENT : opts.key;
  const headers: Record<string, string> = key
    ? signRequest(key, method, path, text, opts.nowMs)
    : {};
  if (text) headers['content-type'] = 'application/json';
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers,
    ...(text ? { body: text } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('node agent simulator', () => {
  let node: NodeAgentSimulator;
  let keys: SigningKeys;
  beforeEach(async () => {
    keys = {
      current: CURRENT,
      previous: { ...PREVIOUS, validUntil: new Date(Date.now() + 3_600_000).toISOString() },
    };
    node = await startNodeAgent({
      nodeId: 'shard-001-node-1',
      signingKeys: keys,
      version: '9.9.9',
    });
  });
  afterEach(async () => {
    await node.stop();
  });

  describe('signatures', () => {
    it('answers health to a signed request', async () => {
      expect(await call(node, 'GET', '/v1/health')).toEqual({
        status: 200,
        body: { nodeId: 'shard-001-node-1', status: 'ok', version: '9.9.9' },
      });
    });

    it('rejects unsigned, stale, future and wrong-secret requests with 401', async () => {
      const unsigned = await call(node, 'GET', '/v1/health', undefined, { key: null });
      expect(unsigned.status).toBe(401);
      expect(unsigned.body.error).toEqual(expect.any(String));
      const stale = await call(node, 'GET', '/v1/health', undefined, {
        nowMs: Date.now() - 301_000,
      });
      expect(stale.status).toBe(401);
      const future = await call(node, 'GET', '/v1/health', undefined, {
        nowMs: Date.now() + 301_000,
      });
      expect(future.status).toBe(401);
      const wrong = await call(node, 'GET', '/v1/health', undefined, {
        key: { id: CURRENT.id, secret: 'nope' },
      });
      expect(wrong.status).toBe(401);
      const unknownKey = await call(node, 'GET', '/v1/health', undefined, {
        key: { id: 'other', secret: 'x' },
      });
      expect(unknownKey.status).toBe(401);
      // Slightly skewed clocks are fine.
      expect(
        (await call(node, 'GET', '/v1/health', undefined, { nowMs: Date.now() - 200_000 })).status,
      ).toBe(200);
    });

    it('binds the signature to the query string and the body', async () => {
      const path = '/v1/stores?x=1';
      const headers = signRequest(CURRENT, 'GET', '/v1/stores', '');
      expect((await fetch(`${node.url}${path}`, { headers })).status).toBe(401);
      const body = JSON.stringify({ businessType: 'retail' });
      const signed = signRequest(CURRENT, 'PUT', '/v1/schemas/b/l', body);
      const tampered = await fetch(`${node.url}/v1/schemas/b/l`, {
        method: 'PUT',
        headers: signed,
        body: JSON.stringify({ businessType: 'other' }),
      });
      expect(tampered.status).toBe(401);
      expect((await call(node, 'GET', path)).status).toBe(200);
    });

    it('accepts the previous key while valid and rejects it once expired', async () => {
      expect((await call(node, 'GET', '/v1/health', undefined, { key: PREVIOUS })).status).toBe(
        200,
      );
      const expired = await startNodeAgent({
        nodeId: 'n2',
        signingKeys: {
          current: CURRENT,
          previous: { ...PREVIOUS, validUntil: new Date(Date.now() - 1000).toISOString() },
        },
      });
      try {
        expect(
          (await call(expired, 'GET', '/v1/health', undefined, { key: PREVIOUS })).status,
        ).toBe(401);
        expect((await call(expired, 'GET', '/v1/health')).status).toBe(200);
      } finally {
        await expired.stop();
      }
    });

    it('records /v1 requests with key id and status', async () => {
      await call(node, 'GET', '/v1/health', undefined, { key: PREVIOUS });
      await call(node, 'GET', '/v1/stores?page=1', undefined, { key: null });
      await fetch(`${node.url}/admin/state`);
      expect(node.requests).toEqual([
        { method: 'GET', path: '/v1/health', keyId: 'key-1', status: 200 },
        { method: 'GET', path: '/v1/stores?page=1', status: 401 },
      ]);
    });
  });

  describe('schemas', () => {
    it('creates, keeps, lists and deletes schemas', async () => {
      expect(await call(node, 'PUT', '/v1/schemas/b1/l1', { businessType: 'retail' })).toEqual({
        status: 201,
        body: { result: 'created' },
      });
      expect(await call(node, 'PUT', '/v1/schemas/b1/l1', { businessType: 'retail' })).toEqual({
        status: 200,
        body: { result: 'unchanged' },
      });
      await call(node, 'PUT', '/v1/schemas/b1/l2', { businessType: 'cafe' });
      expect(await call(node, 'GET', '/v1/schemas')).toEqual({
        status: 200,
        body: {
          schemas: [
            { businessId: 'b1', locationId: 'l1', businessType: 'retail' },
            { businessId: 'b1', locationId: 'l2', businessType: 'cafe' },
          ],
        },
      });
      expect(node.state.schemas.get('b1#l1')).toEqual({
        businessId: 'b1',
        locationId: 'l1',
        businessType: 'retail',
      });
      expect(await call(node, 'DELETE', '/v1/schemas/b1/l1')).toEqual({
        status: 200,
        body: { result: 'deleted' },
      });
      expect(await call(node, 'DELETE', '/v1/schemas/b1/l1')).toEqual({
        status: 404,
        body: { result: 'not_found' },
      });
      expect([...node.state.schemas.keys()]).toEqual(['b1#l2']);
    });

    it('answers 400 to bad bodies and ids, 404/405 to unknown routes', async () => {
      expect(
        (await call(node, 'PUT', '/v1/schemas/b1/l1', undefined, { rawBody: '{oops' })).status,
      ).toBe(400);
      expect((await call(node, 'PUT', '/v1/schemas/b1/l1', {})).status).toBe(400);
      expect(
        (await call(node, 'PUT', '/v1/schemas/b1/l1', { businessType: 'Bad Type' })).status,
      ).toBe(400);
      const badId = await call(node, 'PUT', '/v1/schemas/b%20x/l1', { businessType: 'retail' });
      expect(badId.status).toBe(400);
      expect(badId.body.error).toMatch(/businessId/);
      expect((await call(node, 'GET', '/v1/nothing')).status).toBe(404);
      expect((await call(node, 'POST', '/v1/schemas')).status).toBe(405);
    });
  });

  describe('stores', () => {
    it('starts, keeps, lists and stops monitoring stores', async () => {
      expect(await call(node, 'PUT', '/v1/stores/ws-1')).toEqual({
        status: 201,
        body: { result: 'monitoring_started' },
      });
      expect(await call(node, 'PUT', '/v1/stores/ws-1')).toEqual({
        status: 200,
        body: { result: 'already_monitored' },
      });
      await call(node, 'PUT', '/v1/stores/ws-0');
      expect(await call(node, 'GET', '/v1/stores')).toEqual({
        status: 200,
        body: { storeIds: ['ws-0', 'ws-1'] },
      });
      expect(await call(node, 'DELETE', '/v1/stores/ws-1')).toEqual({
        status: 200,
        body: { result: 'monitoring_stopped' },
      });
      expect(await call(node, 'DELETE', '/v1/stores/ws-1')).toEqual({
        status: 404,
        body: { result: 'not_monitored' },
      });
      expect([...node.state.stores]).toEqual(['ws-0']);
    });
  });

  describe(':apply', () => {
    it('applies a schema batch: ensure then remove, one result per id', async () => {
      await call(node, 'PUT', '/v1/schemas/b1/l1', { businessType: 'retail' });
      const reply = await call(node, 'POST', '/v1/schemas:apply', {
        ensure: [
          { businessId: 'b1', locationId: 'l1', businessType: 'retail' },
          { businessId: 'b2', locationId: 'l1', businessType: 'cafe' },
        ],
        remove: [
          { businessId: 'b9', locationId: 'l9' },
          { businessId: 'b1', locationId: 'l1' },
        ],
      });
      expect(reply).toEqual({
        status: 200,
        body: {
          results: [
            { id: 'b1/l1', result: 'unchanged' },
            { id: 'b2/l1', result: 'created' },
            { id: 'b9/l9', result: 'not_found' },
            { id: 'b1/l1', result: 'deleted' },
          ],
        },
      });
      expect([...node.state.schemas.keys()]).toEqual(['b2#l1']);
    });

    it('applies a store batch', async () => {
      node.state.stores.add('ws-old');
      const reply = await call(node, 'POST', '/v1/stores:apply', {
        ensure: ['ws-1', 'ws-old'],
        remove: ['ws-old', 'ws-none'],
      });
      expect(reply).toEqual({
        status: 200,
        body: {
          results: [
            { id: 'ws-1', result: 'monitoring_started' },
            { id: 'ws-old', result: 'already_monitored' },
            { id: 'ws-old', result: 'monitoring_stopped' },
            { id: 'ws-none', result: 'not_monitored' },
          ],
        },
      });
      expect([...node.state.stores]).toEqual(['ws-1']);
    });

    it('accepts 1,000 ids and refuses 1,001 without applying any', async () => {
      const ids = Array.from({ length: MAX_APPLY_IDS }, (_, i) => `ws-${i}`);
      const ok = await call(node, 'POST', '/v1/stores:apply', {
        ensure: ids.slice(0, 600),
        remove: ids.slice(600),
      });
      expect(ok.status).toBe(200);
      expect(ok.body.results).toHaveLength(MAX_APPLY_IDS);
      const tooMany = await call(node, 'POST', '/v1/stores:apply', {
        ensure: [...ids, 'ws-x'],
        remove: [],
      });
      expect(tooMany.status).toBe(413);
      expect(tooMany.body.error).toMatch(/1000/);
      expect(node.state.stores.has('ws-x')).toBe(false);
      const schemas = Array.from({ length: 1001 }, (_, i) => ({
        businessId: 'b',
        locationId: `l${i}`,
      }));
      expect(
        (await call(node, 'POST', '/v1/schemas:apply', { ensure: [], remove: schemas })).status,
      ).toBe(413);
    });

    it('answers 400 to a bad apply shape and applies nothing', async () => {
      const bad = await call(node, 'POST', '/v1/stores:apply', { ensure: ['ok', 'not ok'] });
      expect(bad.status).toBe(400);
      expect(node.state.stores.size).toBe(0);
      expect((await call(node, 'POST', '/v1/stores:apply', { ensure: 'ws-1' })).status).toBe(400);
      expect((await call(node, 'POST', '/v1/stores:apply', [])).status).toBe(400);
      expect(
        (await call(node, 'POST', '/v1/stores:apply', undefined, { rawBody: 'nope' })).status,
      ).toBe(400);
      expect(
        (
          await call(node, 'POST', '/v1/schemas:apply', {
            ensure: [{ businessId: 'b', locationId: 'l' }],
          })
        ).status,
      ).toBe(400);
      expect((await call(node, 'GET', '/v1/stores:apply')).status).toBe(405);
    });
  });

  describe('admin', () => {
    it('shows state, plants orphan stores and sets faults without signatures', async () => {
      await call(node, 'PUT', '/v1/schemas/b1/l1', { businessType: 'retail' });
      const planted = await fetch(`${node.url}/admin/stores/orphan-1`, { method: 'PUT' });
      expect(planted.status).toBe(201);
      const faults = await fetch(`${node.url}/admin/faults`, {
        method: 'POST',
        body: JSON.stringify({ latencyMs: 5 }),
      });
      expect(faults.status).toBe(200);
      expect(await (await fetch(`${node.url}/admin/state`)).json()).toEqual({
        nodeId: 'shard-001-node-1',
        version: '9.9.9',
        schemas: [{ businessId: 'b1', locationId: 'l1', businessType: 'retail' }],
        stores: ['orphan-1'],
        faults: { latencyMs: 5 },
      });
      const bad = await fetch(`${node.url}/admin/faults`, {
        method: 'POST',
        body: '{"timeoutRate":7}',
      });
      expect(bad.status).toBe(400);
    });
  });

  describe('faults (on /v1 only)', () => {
    it('answers 503 at errorRate 1 and recovers', async () => {
      node.setFaults({ errorRate: 1 });
      expect((await call(node, 'GET', '/v1/health')).status).toBe(503);
      expect((await fetch(`${node.url}/admin/state`)).status).toBe(200);
      node.setFaults({});
      expect((await call(node, 'GET', '/v1/health')).status).toBe(200);
    });

    it('adds latency', async () => {
      node.setFaults({ latencyMs: 120, latencyJitterMs: 10 });
      const t0 = performance.now();
      expect((await call(node, 'GET', '/v1/health')).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    });

    it('never answers at timeoutRate 1', async () => {
      node.setFaults({ timeoutRate: 1 });
      const headers = signRequest(CURRENT, 'GET', '/v1/health', '');
      await expect(
        fetch(`${node.url}/v1/health`, { headers, signal: AbortSignal.timeout(200) }),
      ).rejects.toThrow();
    });

    it('drops connections when down (set through /admin) and notifies', async () => {
      const seen: unknown[] = [];
      const watched = await startNodeAgent({
        nodeId: 'n3',
        signingKeys: keys,
        onFaultsChange: (f) => seen.push(f),
      });
      try {
        expect((await call(watched, 'GET', '/v1/health')).status).toBe(200);
        await fetch(`${watched.url}/admin/faults`, { method: 'POST', body: '{"down":true}' });
        await expect(call(watched, 'GET', '/v1/health')).rejects.toThrow();
        // Nothing was answered while down (the request may not even reach the server).
        expect(watched.requests.filter((r) => r.status !== 0)).toHaveLength(1);
        await fetch(`${watched.url}/admin/faults`, { method: 'POST', body: '{"down":false}' });
        expect((await call(watched, 'GET', '/v1/health')).status).toBe(200);
        expect(seen).toEqual([{ down: true }, { down: false }]);
      } finally {
        await watched.stop();
      }
    });
  });
});
