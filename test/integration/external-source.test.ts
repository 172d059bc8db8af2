// The local stack against "another team's" management server (SOURCE_SERVER_URL): a minimal,
// independent implementation of the listing API written here from the contract (one page,
// `updatedSince` honoured, Bearer token checked), not the project's simulator. Events it
// lists but never sent are repaired; a failing or empty listing removes nothing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { createStores } from '../../shared/store/index.ts';
import { locationRecord, startTestStack, stopAndCheckPorts, workspaceRecord } from './support.ts';

const TOKEN = 'external-source-token-5f1e';

interface Listed {
  updatedAt: string;
  [field: string]: unknown;
}

/** The listing API, as the contract describes it, over plain node:http. */
async function startExternalSource() {
  const state = {
    locations: [] as Listed[],
    workspaces: [] as Listed[],
    failing: false,
    requests: 0,
  };
  const server: Server = createServer((req, res) => {
    state.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { error: 'no' });
    if (state.failing) return send(503, { error: 'down for maintenance' });
    const since = url.searchParams.get('updatedSince');
    const fresh = (items: Listed[]) =>
      items.filter((i) => !since || Date.parse(i.updatedAt) >= Date.parse(since));
    const asOf = new Date().toISOString();
    if (url.pathname === '/internal/locations')
      return send(200, { locations: fresh(state.locations), asOf });
    if (url.pathname === '/internal/workspaces') {
      // A full listing holds what exists: active workspaces only.
      const items = since
        ? fresh(state.workspaces)
        : state.workspaces.filter((w) => w.status === 'active');
      return send(200, { workspaces: items, asOf });
    }
    return send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('local stack with an external management server', () => {
  let source: Awaited<ReturnType<typeof startExternalSource>>;
  let stack: LocalStack;
  const sync = async () => {
    const scheduler = stack.sourceScheduler!;
    const failures = scheduler.stats.failures;
    await scheduler.fire(scheduler.schedules[0]!);
    await stack.waitForIdle(60_000);
    return { failed: scheduler.stats.failures > failures };
  };
  const holders = (workspaceId: string) =>
    stack.fleet!.nodes.filter((n) => n.state.stores.has(workspaceId)).length;
  const location = { businessId: 'biz-ext-src', locationId: 'loc-1', businessType: 'retail' };
  const workspace = {
    workspaceId: 'ws-ext-src-1',
    userId: 'u1',
    businessId: 'biz-ext-src',
    locationId: 'loc-1',
  };

  beforeAll(async () => {
    source = await startExternalSource();
    stack = await startTestStack({ sourceServerUrl: source.url, env: { SOURCE_TOKEN: TOKEN } });
  }, 120_000);
  afterAll(async () => {
    await stopAndCheckPorts(stack);
    await source?.stop();
  }, 30_000);

  it('starts no management server of its own and syncs from the external one', async () => {
    expect(stack.managementServer).toBeUndefined();
    expect(stack.endpoints.source).toBe(source.url);
  });

  it('repairs a location and a workspace it was never sent, then a deletion never sent', async () => {
    const created = new Date(Date.now() - 60_000).toISOString();
    source.state.locations.push({ ...location, updatedAt: created });
    source.state.workspaces.push({ ...workspace, status: 'active', updatedAt: created });
    expect((await sync()).failed).toBe(false);
    expect(await locationRecord(stack, location)).toMatchObject({ status: 'active' });
    const record = await workspaceRecord(stack, workspace.workspaceId);
    expect(record).toMatchObject({ status: 'active' });
    expect(holders(workspace.workspaceId)).toBe(stack.fleet!.nodesOf(record!.shardId!).length);

    source.state.workspaces[0] = {
      ...workspace,
      status: 'deleted',
      updatedAt: new Date().toISOString(),
    };
    expect((await sync()).failed).toBe(false);
    expect((await workspaceRecord(stack, workspace.workspaceId))?.status).toBe('deleted');
    expect(holders(workspace.workspaceId)).toBe(0);
  }, 120_000);

  it('removes nothing while the source fails, and says so', async () => {
    const kept = { ...workspace, workspaceId: 'ws-ext-src-2' };
    source.state.workspaces.push({
      ...kept,
      status: 'active',
      updatedAt: new Date().toISOString(),
    });
    expect((await sync()).failed).toBe(false);
    expect(holders(kept.workspaceId)).toBeGreaterThan(0);
    source.state.failing = true;
    try {
      const before = source.state.requests;
      expect((await sync()).failed).toBe(true);
      expect(source.state.requests).toBeGreaterThan(before);
    } finally {
      source.state.failing = false;
    }
    expect((await workspaceRecord(stack, kept.workspaceId))?.status).toBe('active');
    expect(holders(kept.workspaceId)).toBeGreaterThan(0);
    const last = await createStores({
      tableName: stack.tableName,
      client: stack.ddb,
    }).source.last();
    expect(last?.errors.length).toBeGreaterThan(0);
  }, 120_000);
});
