import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CitrusSimulator, startCitrus } from '../../../local/simulators/citrus.ts';

const API_KEY = 'test-citrus-key';
const auth = { authorization: `Bearer ${API_KEY}` };

function shards(count: number, nodesPer = 2) {
  return Array.from({ length: count }, (_, i) => {
    const shardId = `shard-${String(i + 1).padStart(3, '0')}`;
    return {
      shardId,
      role: 'database',
      nodes: Array.from({ length: nodesPer }, (_, n) => ({
        nodeId: `${shardId}-node-${n + 1}`,
        endpoint: `http://127.0.0.1:${19000 + i * 10 + n}`,
      })),
    };
  });
}

async function register(
  citrus: CitrusSimulator,
  body: unknown,
  headers: Record<string, string> = auth,
) {
  const res = await fetch(`${citrus.url}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const get = (citrus: CitrusSimulator, path: string) =>
  fetch(`${citrus.url}${path}`, { headers: auth });

describe('Citrus simulator', () => {
  let citrus: CitrusSimulator;
  beforeEach(async () => {
    citrus = await startCitrus({
      apiKey: API_KEY,
      shards: shards(4),
      connectionStringSecret: 'pw-1',
    });
  });
  afterEach(async () => {
    await citrus.stop();
  });

  it('binds 127.0.0.1 on an ephemeral port', () => {
    expect(citrus.port).toBeGreaterThan(0);
    expect(citrus.url).toBe(`http://127.0.0.1:${citrus.port}`);
  });

  it('rejects missing and wrong bearer tokens with 401 and never echoes the key', async () => {
    const location = { businessId: 'b1', locationId: 'l1', businessType: 'retail' };
    const missing = await register(citrus, location, {});
    expect(missing.status).toBe(401);
    expect(missing.body.error).toEqual(expect.any(String));
    const wrong = await register(citrus, location, { authorization: 'Bearer not-the-key-xyz' });
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain('not-the-key-xyz');
    expect(JSON.stringify(wrong.body)).not.toContain(API_KEY);
    expect((await fetch(`${citrus.url}/api/shards/health`)).status).toBe(401);
    expect(citrus.registrations).toBe(0);
  });

  it('places a location deterministically and idempotently', async () => {
    const location = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'retail' };
    const first = await register(citrus, location);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      shardKey: expect.any(String),
      shardId: expect.stringMatching(/^shard-00[1-4]$/),
    });
    for (let i = 0; i < 3; i++) expect((await register(citrus, location)).body).toEqual(first.body);
    expect(citrus.registrations).toBe(4);

    // A fresh Citrus with the same shards gives the same answer (hash, not arrival order).
    const other = await startCitrus({ apiKey: API_KEY, shards: shards(4) });
    try {
      expect((await register(other, location)).body).toEqual(first.body);
    } finally {
      await other.stop();
    }
  });

  it('spreads locations over the shards', async () => {
    const seen = new Set<unknown>();
    for (let i = 0; i < 40; i++) {
      const r = await register(citrus, {
        businessId: 'b',
        locationId: `l${i}`,
        businessType: 'retail',
      });
      seen.add(r.body.shardId);
    }
    expect(seen.size).toBe(4);
  });

  it('answers 400 to a bad register body', async () => {
    for (const body of [
      { businessId: 'b1', locationId: 'l1' },
      { businessId: 'b 1', locationId: 'l1', businessType: 'retail' },
      { businessId: 'b1', locationId: 'l1', businessType: 'Retail' },
      [],
    ]) {
      const r = await register(citrus, body);
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual(expect.any(String));
    }
    const res = await fetch(`${citrus.url}/api/register`, {
      method: 'POST',
      headers: auth,
      body: '{nope',
    });
    expect(res.status).toBe(400);
  });

  it('returns shard details for a known key and 404 otherwise', async () => {
    const { body } = await register(citrus, {
      businessId: 'b1',
      locationId: 'l1',
      businessType: 'retail',
    });
    const res = await get(citrus, `/api/shard/${body.shardKey}`);
    expect(res.status).toBe(200);
    const details = (await res.json()) as Record<string, unknown>;
    expect(details).toEqual({
      shardKey: body.shardKey,
      shardId: body.shardId,
      role: 'database',
      connectionString: expect.stringMatching(/^postgres:\/\/citrus:pw-1@/),
      nodes: [
        {
          nodeId: `${body.shardId}-node-1`,
          endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        },
        { nodeId: `${body.shardId}-node-2`, endpoint: expect.any(String) },
      ],
    });
    expect((await get(citrus, '/api/shard/sk-unknown')).status).toBe(404);
  });

  it('paginates health with an opaque cursor and omits nextCursor on the last page', async () => {
    const big = await startCitrus({ apiKey: API_KEY, shards: shards(11, 1) });
    try {
      const ids: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = `limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await get(big, `/api/shards/health?${query}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as {
          shards: Array<{ shardId: string; status: string; nodes: Array<{ healthy: boolean }> }>;
          nextCursor?: string;
        };
        pages++;
        for (const s of page.shards) {
          ids.push(s.shardId);
          expect(s.status).toBe('healthy');
          expect(s.nodes[0]?.healthy).toBe(true);
        }
        if (pages < 3) expect(page.nextCursor).toEqual(expect.any(String));
        else expect('nextCursor' in page).toBe(false);
        cursor = page.nextCursor;
      } while (cursor);
      expect(pages).toBe(3);
      expect(ids).toEqual(shards(11, 1).map((s) => s.shardId));
      // Default limit (100) returns everything in one page.
      const all = (await (await get(big, '/api/shards/health')).json()) as { shards: unknown[] };
      expect(all.shards).toHaveLength(11);
    } finally {
      await big.stop();
    }
  });

  it('rejects bad limits and cursors with 400', async () => {
    for (const q of [
      'limit=0',
      'limit=501',
      'limit=abc',
      'limit=1.5',
      'cursor=%%%',
      'cursor=bm9wZQ',
    ]) {
      expect((await get(citrus, `/api/shards/health?${q}`)).status, q).toBe(400);
    }
    expect((await get(citrus, '/api/shards/health?limit=500')).status).toBe(200);
    expect((await get(citrus, '/api/shards/health?limit=1')).status).toBe(200);
  });

  it('reports node health: degraded, then down', async () => {
    const health = async () => {
      const page = (await (await get(citrus, '/api/shards/health')).json()) as {
        shards: Array<{
          shardId: string;
          status: string;
          nodes: Array<{ nodeId: string; healthy: boolean }>;
        }>;
      };
      return page.shards.find((s) => s.shardId === 'shard-001')!;
    };
    citrus.setNodeHealthy('shard-001-node-1', false);
    let s = await health();
    expect(s.status).toBe('degraded');
    expect(s.nodes.find((n) => n.nodeId === 'shard-001-node-1')?.healthy).toBe(false);
    citrus.setNodeHealthy('shard-001-node-2', false);
    expect((await health()).status).toBe('down');
    citrus.setNodeHealthy('shard-001-node-1', true);
    citrus.setNodeHealthy('shard-001-node-2', true);
    s = await health();
    expect(s.status).toBe('healthy');
  });

  it('adds and removes nodes at run time, through the API and /admin', async () => {
    const nodesOf = async (shardId: string) => {
      const page = (await (await get(citrus, '/api/shards/health')).json()) as {
        shards: Array<{ shardId: string; nodes: Array<{ nodeId: string }> }>;
      };
      return page.shards.find((s) => s.shardId === shardId)!.nodes.map((n) => n.nodeId);
    };
    citrus.addNode('shard-002', { nodeId: 'shard-002-node-9', endpoint: 'http://127.0.0.1:19999' });
    expect(await nodesOf('shard-002')).toContain('shard-002-node-9');
    citrus.removeNode('shard-002', 'shard-002-node-9');
    expect(await nodesOf('shard-002')).not.toContain('shard-002-node-9');
    expect(() =>
      citrus.addNode('shard-404', { nodeId: 'x', endpoint: 'http://127.0.0.1:1' }),
    ).toThrow();

    const add = await fetch(`${citrus.url}/admin/shards/shard-003/nodes`, {
      method: 'POST',
      body: JSON.stringify({ nodeId: 'shard-003-node-7', endpoint: 'http://127.0.0.1:19998' }),
    });
    expect(add.status).toBe(201);
    expect(await nodesOf('shard-003')).toContain('shard-003-node-7');
    const bad = await fetch(`${citrus.url}/admin/shards/shard-003/nodes`, {
      method: 'POST',
      body: JSON.stringify({ nodeId: 'n', endpoint: 'not a url' }),
    });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${citrus.url}/admin/shards/shard-404/nodes`, {
      method: 'POST',
      body: JSON.stringify({ nodeId: 'n', endpoint: 'http://127.0.0.1:1' }),
    });
    expect(unknown.status).toBe(404);
    const del = await fetch(`${citrus.url}/admin/shards/shard-003/nodes/shard-003-node-7`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(200);
    expect(await nodesOf('shard-003')).not.toContain('shard-003-node-7');
    const again = await fetch(`${citrus.url}/admin/shards/shard-003/nodes/shard-003-node-7`, {
      method: 'DELETE',
    });
    expect(again.status).toBe(404);
  });

  it('shows its state on /admin/state without auth', async () => {
    await register(citrus, { businessId: 'b1', locationId: 'l1', businessType: 'retail' });
    await register(citrus, { businessId: 'b1', locationId: 'l2', businessType: 'retail' });
    const state = (await (await fetch(`${citrus.url}/admin/state`)).json()) as Record<
      string,
      unknown
    >;
    expect(state).toMatchObject({ nodes: 8, assignments: 2, registrations: 2 });
    expect(citrus.registrationsByLocation.get('b1#l1')).toBeGreaterThanOrEqual(1);
    expect(state.shards).toHaveLength(4);
  });

  describe('faults (on /api only)', () => {
    it('adds latency', async () => {
      citrus.setFaults({ latencyMs: 150 });
      const t0 = performance.now();
      expect((await get(citrus, '/api/shards/health')).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    });

    it('answers 503 at errorRate 1, set through /admin/faults, and recovers', async () => {
      const set = await fetch(`${citrus.url}/admin/faults`, {
        method: 'POST',
        body: JSON.stringify({ errorRate: 1 }),
      });
      expect(set.status).toBe(200);
      expect(citrus.faults()).toEqual({ errorRate: 1 });
      expect((await get(citrus, '/api/shards/health')).status).toBe(503);
      expect(
        (await register(citrus, { businessId: 'b', locationId: 'l', businessType: 'x' })).status,
      ).toBe(503);
      expect(citrus.registrations).toBe(0);
      // Admin stays reachable under faults.
      expect((await fetch(`${citrus.url}/admin/state`)).status).toBe(200);
      citrus.setFaults({});
      expect((await get(citrus, '/api/shards/health')).status).toBe(200);
    });

    it('answers 429 with Retry-After at rateLimitRate 1', async () => {
      citrus.setFaults({ rateLimitRate: 1, retryAfterSeconds: 2 });
      const res = await get(citrus, '/api/shards/health');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      citrus.setFaults({});
      expect((await get(citrus, '/api/shards/health')).status).toBe(200);
    });

    it('rejects invalid faults', async () => {
      for (const body of [{ errorRate: 2 }, { latencyMs: -1 }, { typo: true }]) {
        const res = await fetch(`${citrus.url}/admin/faults`, {
          method: 'POST',
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(400);
      }
    });

    it('never answers at timeoutRate 1', async () => {
      citrus.setFaults({ timeoutRate: 1 });
      await expect(
        fetch(`${citrus.url}/api/shards/health`, {
          headers: auth,
          signal: AbortSignal.timeout(200),
        }),
      ).rejects.toThrow();
    });

    it('refuses service when down, then comes back', async () => {
      // A keep-alive connection exists before going down: it must not keep working.
      expect((await get(citrus, '/api/shards/health')).status).toBe(200);
      citrus.setFaults({ down: true });
      await expect(get(citrus, '/api/shards/health')).rejects.toThrow();
      citrus.setFaults({ down: false });
      expect((await get(citrus, '/api/shards/health')).status).toBe(200);
    });
  });
});
