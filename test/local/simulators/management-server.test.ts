import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL } from '../../../local/defaults.ts';
import {
  DEFAULT_SOURCE_TOKEN,
  type ManagementServerSimulator,
  startManagementServer,
} from '../../../local/simulators/management-server.ts';
import {
  SourceClient,
  SourceRejectedError,
  SourceUnauthorizedError,
  SourceUnavailableError,
} from '../../../shared/adapters/source-client.ts';
import { Secret } from '../../../shared/domain/secret.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (n: number) => n * 60_000;
const auth = { authorization: `Bearer ${DEFAULT_SOURCE_TOKEN}` };

const location = (n: number, updatedAt?: string) => ({
  businessId: 'biz-1',
  locationId: `loc-${String(n).padStart(4, '0')}`,
  businessType: 'restaurant',
  ...(updatedAt ? { updatedAt } : {}),
});
const workspace = (n: number, status: 'active' | 'deleted', updatedAt?: string) => ({
  workspaceId: `ws-${String(n).padStart(4, '0')}`,
  userId: `user-${n}`,
  businessId: 'biz-1',
  locationId: 'loc-0001',
  status,
  ...(updatedAt ? { updatedAt } : {}),
});

interface Page {
  locations?: Record<string, unknown>[];
  workspaces?: Record<string, unknown>[];
  nextCursor?: string;
  asOf: string;
  error?: string;
}

describe('management server simulator', () => {
  let sim: ManagementServerSimulator;
  let now: number;

  beforeEach(async () => {
    now = T0;
    sim = await startManagementServer({ now: () => now });
  });
  afterEach(async () => {
    await sim.stop();
  });

  async function get(path: string, headers: Record<string, string> = auth) {
    const res = await fetch(`${sim.url}${path}`, { headers });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Page };
  }
  async function admin(path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') {
    const res = await fetch(`${sim.url}/admin/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  /** Every page of a listing, asserting the asOf never changes. */
  async function readAll(path: string, limit: number, between?: (page: number) => void) {
    const items: Record<string, unknown>[] = [];
    const sep = path.includes('?') ? '&' : '?';
    let cursor: string | undefined;
    let asOf: string | undefined;
    for (let n = 1; ; n++) {
      const query = `${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { status, body } = await get(`${path}${query}`);
      expect(status).toBe(200);
      asOf ??= body.asOf;
      expect(body.asOf).toBe(asOf);
      items.push(...(body.locations ?? body.workspaces ?? []));
      if (!body.nextCursor) return { items, asOf, pages: n };
      cursor = body.nextCursor;
      between?.(n);
    }
  }

  it('binds 127.0.0.1 on an ephemeral port, with the local token by default', () => {
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
    expect(DEFAULT_SOURCE_TOKEN).toBe('local-source-token');
    expect(LOCAL.sourceToken).toBe(DEFAULT_SOURCE_TOKEN);
  });

  it('rejects a missing or wrong bearer token with 401 and never echoes it', async () => {
    const missing = await get('/internal/locations', {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await get('/internal/workspaces', { authorization: 'Bearer guessed-token-77' });
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain('guessed-token-77');
  });

  it('lists every location and only active workspaces in a full listing', async () => {
    sim.recordLocation(location(1, iso(T0 - minutes(60))));
    sim.recordLocation(location(2));
    sim.recordWorkspace(workspace(1, 'active', iso(T0 - minutes(30))));
    sim.recordWorkspace(workspace(2, 'deleted', iso(T0 - minutes(20))));
    const locations = await get('/internal/locations');
    expect(locations.status).toBe(200);
    expect(locations.body).toEqual({
      locations: [
        { ...location(1), updatedAt: iso(T0 - minutes(60)) },
        { ...location(2), updatedAt: iso(T0) },
      ],
      asOf: iso(T0),
    });
    const workspaces = await get('/internal/workspaces');
    expect(workspaces.body).toEqual({
      workspaces: [{ ...workspace(1, 'active'), updatedAt: iso(T0 - minutes(30)) }],
      asOf: iso(T0),
    });
  });

  it('lists everything updated since an instant, deleted workspaces included', async () => {
    sim.recordLocation(location(1, iso(T0 - minutes(60))));
    sim.recordLocation(location(2, iso(T0 - minutes(5))));
    sim.recordWorkspace(workspace(1, 'active', iso(T0 - minutes(30))));
    sim.recordWorkspace(workspace(2, 'deleted', iso(T0 - minutes(5))));
    sim.recordWorkspace(workspace(3, 'active', iso(T0 - minutes(10))));
    const since = encodeURIComponent(iso(T0 - minutes(10)));
    const locations = await get(`/internal/locations?updatedSince=${since}`);
    expect(locations.body.locations?.map((l) => l.locationId)).toEqual(['loc-0002']);
    const workspaces = await get(`/internal/workspaces?updatedSince=${since}`);
    expect(workspaces.body.workspaces?.map((w) => [w.workspaceId, w.status])).toEqual([
      ['ws-0002', 'deleted'],
      ['ws-0003', 'active'],
    ]);
  });

  it('pages with an opaque cursor and keeps the asOf of the listing start', async () => {
    for (let n = 1; n <= 25; n++) sim.recordWorkspace(workspace(n, 'active', iso(T0)));
    const { items, asOf, pages } = await readAll('/internal/workspaces', 10, () => {
      now += minutes(1);
    });
    expect(pages).toBe(3);
    expect(asOf).toBe(iso(T0));
    expect(items.map((w) => w.workspaceId)).toEqual(
      Array.from({ length: 25 }, (_, i) => `ws-${String(i + 1).padStart(4, '0')}`),
    );
  });

  it('serves an item that exists for the whole listing exactly once despite changes', async () => {
    for (let n = 1; n <= 30; n += 2) sim.recordWorkspace(workspace(n, 'active', iso(T0)));
    const { items } = await readAll('/internal/workspaces', 4, (page) => {
      // Creations before and after the cursor, an update and a deletion, between pages.
      sim.recordWorkspace(workspace(page * 2, 'active'));
      sim.recordWorkspace(workspace(30 - page * 2, 'active'));
      sim.recordWorkspace(workspace(29, 'active', iso(T0 + minutes(page))));
      if (page === 1) sim.recordWorkspace(workspace(1, 'deleted'));
    });
    const ids = items.map((w) => w.workspaceId as string);
    expect(new Set(ids).size).toBe(ids.length);
    for (let n = 3; n <= 29; n += 2) expect(ids).toContain(`ws-${String(n).padStart(4, '0')}`);
  });

  it('uses 500 items per page by default and accepts 1..1000', async () => {
    for (let n = 1; n <= 501; n++) sim.recordLocation(location(n, iso(T0)));
    const first = await get('/internal/locations');
    expect(first.body.locations).toHaveLength(500);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const rest = await get(
      `/internal/locations?cursor=${encodeURIComponent(first.body.nextCursor!)}`,
    );
    expect(rest.body.locations).toHaveLength(1);
    expect(rest.body.nextCursor).toBeUndefined();
    expect((await get('/internal/locations?limit=1000')).body.locations).toHaveLength(501);
    expect((await get('/internal/locations?limit=1')).body.locations).toHaveLength(1);
    for (const limit of ['0', '1001', 'ten', '-1']) {
      const bad = await get(`/internal/locations?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toContain('limit');
    }
  });

  it('keeps cursors valid for at least 10 minutes, then expires them', async () => {
    for (let n = 1; n <= 3; n++) sim.recordLocation(location(n));
    const first = await get('/internal/locations?limit=1');
    const cursor = encodeURIComponent(first.body.nextCursor!);
    now += minutes(10);
    const second = await get(`/internal/locations?limit=1&cursor=${cursor}`);
    expect(second.status).toBe(200);
    expect(second.body.asOf).toBe(iso(T0));
    now += minutes(60);
    const expired = await get(`/internal/locations?limit=1&cursor=${cursor}`);
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('cursor expired');
  });

  it('refuses a malformed cursor, one of another listing, and a bad updatedSince', async () => {
    for (let n = 1; n <= 3; n++) sim.recordLocation(location(n));
    expect((await get('/internal/locations?cursor=not-a-cursor')).status).toBe(400);
    const first = await get('/internal/locations?limit=1');
    const cursor = encodeURIComponent(first.body.nextCursor!);
    const other = await get(`/internal/workspaces?cursor=${cursor}`);
    expect(other.status).toBe(400);
    expect(other.body.error).toContain('another listing');
    const since = await get(
      `/internal/locations?cursor=${cursor}&updatedSince=${encodeURIComponent(iso(T0))}`,
    );
    expect(since.status).toBe(400);
    expect((await get('/internal/locations?updatedSince=yesterday')).status).toBe(400);
  });

  it('records locations and workspaces through the admin API, one or many at a time', async () => {
    const one = await admin('locations', location(1, iso(T0 - minutes(1))));
    expect(one.status).toBe(200);
    const many = await admin('workspaces', [workspace(1, 'active'), workspace(2, 'deleted')]);
    expect(many.body.workspaces).toEqual([
      { ...workspace(1, 'active'), updatedAt: iso(T0) },
      { ...workspace(2, 'deleted'), updatedAt: iso(T0) },
    ]);
    expect(sim.locations()).toEqual([{ ...location(1), updatedAt: iso(T0 - minutes(1)) }]);
    // An update replaces the workspace's state.
    await admin('workspaces', workspace(1, 'deleted', iso(T0 + minutes(1))));
    expect((await admin('state')).body).toMatchObject({
      locations: 1,
      workspaces: { active: 0, deleted: 2 },
    });
    expect((await admin('workspaces')).body.workspaces).toHaveLength(2);

    const bad = await admin('workspaces', [
      workspace(3, 'active'),
      { ...workspace(4, 'active'), status: 'gone' },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('workspace 1');
    expect(sim.workspaces()).toHaveLength(2);
    expect(() => sim.recordLocation({ ...location(9), businessType: 'Not A Type' })).toThrow(
      /businessType/,
    );
  });

  it('answers 503 when told to fail, and recovers', async () => {
    sim.setFaults({ errorRate: 1 });
    expect((await get('/internal/locations')).status).toBe(503);
    const viaAdmin = await admin('faults', {});
    expect(viaAdmin.status).toBe(200);
    expect((await get('/internal/locations')).status).toBe(200);
    await admin('faults', { errorRate: 1 });
    expect(sim.faults()).toEqual({ errorRate: 1 });
    expect((await get('/internal/workspaces')).status).toBe(503);
    expect((await admin('faults', { errorRate: 2 })).status).toBe(400);
  });

  it('can act as a broken source that lists nothing', async () => {
    sim.recordLocation(location(1));
    sim.recordWorkspace(workspace(1, 'active'));
    expect((await admin('empty-listings', { enabled: true })).status).toBe(200);
    expect((await get('/internal/workspaces')).body).toEqual({ workspaces: [], asOf: iso(T0) });
    sim.setEmptyListings(false);
    expect((await get('/internal/workspaces')).body.workspaces).toHaveLength(1);
  });

  it('records the listing requests it answered', async () => {
    await get('/internal/locations?limit=5');
    await get('/internal/workspaces', {});
    expect(sim.requests).toEqual([
      { method: 'GET', path: '/internal/locations?limit=5', status: 200 },
      { method: 'GET', path: '/internal/workspaces', status: 401 },
    ]);
  });

  describe('with the source client', () => {
    const clientOf = (token: string = DEFAULT_SOURCE_TOKEN) =>
      new SourceClient({
        baseUrl: sim.url,
        token: new Secret(token),
        timeoutMs: 2_000,
        attempts: 2,
        baseDelayMs: 5,
        maxDelayMs: 20,
      });

    it('reads complete full and incremental listings', async () => {
      for (let n = 1; n <= 7; n++) sim.recordLocation(location(n, iso(T0 - minutes(n))));
      for (let n = 1; n <= 7; n++) {
        sim.recordWorkspace(workspace(n, n % 3 === 0 ? 'deleted' : 'active', iso(T0 - minutes(n))));
      }
      const client = clientOf();
      const full = await client.listWorkspaces({ limit: 2 });
      expect(full).toMatchObject({ complete: true, asOf: iso(T0), pages: 3 });
      expect(full.items).toHaveLength(5);
      const recent = await client.listWorkspaces({ updatedSince: iso(T0 - minutes(3)), limit: 2 });
      expect(recent.items.map((w) => [w.workspaceId, w.status])).toEqual([
        ['ws-0001', 'active'],
        ['ws-0002', 'active'],
        ['ws-0003', 'deleted'],
      ]);
      await expect(client.listLocations({ limit: 3 })).resolves.toMatchObject({
        complete: true,
        pages: 3,
      });
    });

    it('fails with the right errors on a wrong token, an outage and an expired cursor', async () => {
      await expect(clientOf('wrong-token').listLocations()).rejects.toThrow(
        SourceUnauthorizedError,
      );
      sim.setFaults({ errorRate: 1 });
      await expect(clientOf().listLocations()).rejects.toThrow(SourceUnavailableError);
      sim.setFaults({});
      for (let n = 1; n <= 3; n++) sim.recordLocation(location(n));
      const client = clientOf();
      const partial = await client.listLocations({ limit: 1, shouldStop: () => true });
      expect(partial.complete).toBe(false);
      now += minutes(31);
      await expect(
        client.listLocations({ limit: 1, cursor: partial.nextCursor, asOf: partial.asOf }),
      ).rejects.toThrow(SourceRejectedError);
    });
  });
});
