import { afterEach, describe, expect, it } from 'vitest';
import {
  SourceClient,
  SourceRejectedError,
  SourceResponseError,
  SourceUnauthorizedError,
  SourceUnavailableError,
} from '../../../shared/adapters/source-client.ts';
import { Secret } from '../../../shared/domain/secret.ts';
import {
  hang,
  json,
  type Responder,
  raw,
  startScriptedServer,
} from '../../support/scripted-server.ts';

const TOKEN = 'test-source-token-9c2d';
const AS_OF = '2026-11-22T10:00:00.000Z';

const workspace = (n: number, extra: Record<string, unknown> = {}) => ({
  workspaceId: `ws-${n}`,
  userId: `user-${n}`,
  businessId: 'biz-1',
  locationId: 'loc-1',
  status: 'active',
  updatedAt: '2026-11-22T09:00:00.000Z',
  ...extra,
});
const location = (n: number) => ({
  businessId: 'biz-1',
  locationId: `loc-${n}`,
  businessType: 'restaurant',
  updatedAt: '2026-11-22T09:00:00.000Z',
});

let server: Awaited<ReturnType<typeof startScriptedServer>> | undefined;
afterEach(() => server?.stop());

async function clientFor(
  script: Responder[] | Responder,
  options: Partial<ConstructorParameters<typeof SourceClient>[0]> = {},
) {
  server = await startScriptedServer(script);
  return new SourceClient({
    baseUrl: server.url,
    token: new Secret(TOKEN),
    timeoutMs: 200,
    attempts: 3,
    baseDelayMs: 5,
    maxDelayMs: 20,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

const everything = (error: Error) =>
  `${error.message} ${error.stack} ${JSON.stringify(error)} ${String(error)}`;

const query = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams);

describe('SourceClient', () => {
  it('reads every page with the bearer token, limit, cursor and updatedSince', async () => {
    const client = await clientFor([
      json(200, { workspaces: [workspace(1), workspace(2)], nextCursor: 'c-2', asOf: AS_OF }),
      json(200, { workspaces: [workspace(3, { status: 'deleted' })], asOf: AS_OF }),
    ]);
    const listing = await client.listWorkspaces({
      updatedSince: '2026-11-22T08:59:00.000Z',
      limit: 2,
    });
    expect(listing).toEqual({
      items: [workspace(1), workspace(2), workspace(3, { status: 'deleted' })],
      asOf: AS_OF,
      complete: true,
      pages: 2,
    });
    const [first, second] = server!.seen;
    expect(first?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(second?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(new URL(first!.url, 'http://x').pathname).toBe('/internal/workspaces');
    expect(query(first!.url)).toEqual({ limit: '2', updatedSince: '2026-11-22T08:59:00.000Z' });
    expect(query(second!.url)).toEqual({
      limit: '2',
      cursor: 'c-2',
      updatedSince: '2026-11-22T08:59:00.000Z',
    });
  });

  it('lists locations with the default page size; a null or empty nextCursor ends it', async () => {
    const client = await clientFor([
      json(200, { locations: [location(1)], nextCursor: 'more', asOf: AS_OF }),
      json(200, { locations: [location(2)], nextCursor: null, asOf: AS_OF }),
    ]);
    const listing = await client.listLocations();
    expect(listing.items).toEqual([location(1), location(2)]);
    expect(listing.complete).toBe(true);
    expect(new URL(server!.seen[0]!.url, 'http://x').pathname).toBe('/internal/locations');
    expect(query(server!.seen[0]!.url)).toEqual({ limit: '500' });

    await server!.stop();
    const empty = await clientFor([json(200, { locations: [], nextCursor: '', asOf: AS_OF })]);
    await expect(empty.listLocations()).resolves.toMatchObject({ items: [], complete: true });
  });

  it('ignores unknown fields in pages and items', async () => {
    const client = await clientFor([
      json(200, {
        workspaces: [workspace(1, { plan: 'gold', tags: ['x'] })],
        asOf: AS_OF,
        total: 1,
      }),
    ]);
    const listing = await client.listWorkspaces();
    expect(listing.items).toEqual([workspace(1)]);
  });

  it('iterates pages lazily', async () => {
    const client = await clientFor([
      json(200, { workspaces: [workspace(1)], nextCursor: 'c-2', asOf: AS_OF }),
      json(200, { workspaces: [workspace(2)], asOf: AS_OF }),
    ]);
    const pages = client.workspacePages({ limit: 1 });
    const first = await pages.next();
    expect(first.value).toEqual({ items: [workspace(1)], asOf: AS_OF, nextCursor: 'c-2', page: 1 });
    expect(server!.seen).toHaveLength(1);
    const second = await pages.next();
    expect(second.value).toEqual({ items: [workspace(2)], asOf: AS_OF, page: 2 });
    expect((await pages.next()).done).toBe(true);
  });

  it('stops when told to, incomplete, and resumes from the cursor with the same asOf', async () => {
    const pageOf = (n: number, next?: string): Responder =>
      json(200, { workspaces: [workspace(n)], asOf: AS_OF, ...(next ? { nextCursor: next } : {}) });
    const client = await clientFor([pageOf(1, 'c-2'), pageOf(2, 'c-3'), pageOf(3)]);
    // Asked before the second page (go on), then before the third (stop).
    let asked = 0;
    const partial = await client.listWorkspaces({ shouldStop: () => ++asked >= 2 });
    expect(partial).toEqual({
      items: [workspace(1), workspace(2)],
      asOf: AS_OF,
      complete: false,
      nextCursor: 'c-3',
      pages: 2,
    });
    const rest = await client.listWorkspaces({ cursor: partial.nextCursor, asOf: partial.asOf });
    expect(rest).toEqual({ items: [workspace(3)], asOf: AS_OF, complete: true, pages: 1 });
    expect(query(server!.seen[2]!.url).cursor).toBe('c-3');
  });

  it('fails a listing whose asOf changes between pages', async () => {
    const client = await clientFor([
      json(200, { workspaces: [workspace(1)], nextCursor: 'c-2', asOf: AS_OF }),
      json(200, { workspaces: [workspace(2)], asOf: '2026-11-22T10:05:00.000Z' }),
    ]);
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceResponseError);
    expect(error.message).toContain('asOf changed within one listing');
  });

  it('fails a listing whose cursor does not move', async () => {
    const client = await clientFor(
      json(200, { workspaces: [workspace(1)], nextCursor: 'same', asOf: AS_OF }),
    );
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceResponseError);
    expect(error.message).toContain('nextCursor repeats');
    expect(server!.seen).toHaveLength(2);
  });

  it('retries 5xx and then succeeds', async () => {
    const retries: number[] = [];
    const client = await clientFor(
      [json(503, { error: 'busy' }), json(500, {}), json(200, { workspaces: [], asOf: AS_OF })],
      { onRetry: (_op, _reason, attempt) => retries.push(attempt) },
    );
    await expect(client.listWorkspaces()).resolves.toMatchObject({ complete: true });
    expect(server!.seen).toHaveLength(3);
    expect(retries).toEqual([1, 2]);
  });

  it('retries a failed page of a listing without restarting the listing', async () => {
    const client = await clientFor([
      json(200, { workspaces: [workspace(1)], nextCursor: 'c-2', asOf: AS_OF }),
      json(502, { error: 'bad gateway' }),
      json(200, { workspaces: [workspace(2)], asOf: AS_OF }),
    ]);
    const listing = await client.listWorkspaces();
    expect(listing.items).toEqual([workspace(1), workspace(2)]);
    expect(query(server!.seen[2]!.url).cursor).toBe('c-2');
  });

  it('honours Retry-After on 429 rather than its own backoff', async () => {
    const delays: number[] = [];
    const client = await clientFor(
      [
        json(429, { error: 'slow down' }, { 'retry-after': '0' }),
        json(200, { locations: [], asOf: AS_OF }),
      ],
      {
        baseDelayMs: 10_000,
        maxDelayMs: 10_000,
        onRetry: (_op, _reason, _attempt, delay) => delays.push(delay),
      },
    );
    await expect(client.listLocations()).resolves.toMatchObject({ complete: true });
    expect(delays).toEqual([0]);
  });

  it.each([408, 429])('retries %i', async (status) => {
    const client = await clientFor([json(status, {}), json(200, { locations: [], asOf: AS_OF })]);
    await expect(client.listLocations()).resolves.toMatchObject({ complete: true });
    expect(server!.seen).toHaveLength(2);
  });

  it('gives up after the configured attempts with a retryable error', async () => {
    const client = await clientFor(json(500, { error: 'down' }));
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error.message).toMatch(
      /Source listWorkspaces failed: GET 127\.0\.0\.1:\d+\/internal\/workspaces answered 500: down/,
    );
    expect(server!.seen).toHaveLength(3);
  });

  it('times out a request that never answers, and retries it', async () => {
    const client = await clientFor([hang, json(200, { workspaces: [], asOf: AS_OF })], {
      timeoutMs: 100,
    });
    await expect(client.listWorkspaces()).resolves.toMatchObject({ complete: true });
    expect(server!.seen).toHaveLength(2);
  });

  it('reports connection refused as retryable', async () => {
    const client = await clientFor(json(200, {}), { attempts: 2 });
    await server!.stop();
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error.message).toContain('could not connect');
  });

  it('turns 401 into a permanent, clear error without retrying and without the token', async () => {
    const echo: Responder = (req, res) => {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: `bad token ${req.headers.authorization}` }));
    };
    const client = await clientFor(echo);
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceUnauthorizedError);
    expect(error).toBeInstanceOf(SourceRejectedError);
    expect((error as SourceUnauthorizedError).status).toBe(401);
    expect(error.message).toContain('source/token');
    expect(everything(error)).not.toContain(TOKEN);
    expect(server!.seen).toHaveLength(1);
  });

  it.each([400, 404, 422])('does not retry a permanent %i', async (status) => {
    const client = await clientFor(json(status, { error: 'cursor expired' }));
    const error = await failure(client.listWorkspaces({ cursor: 'old', asOf: AS_OF }));
    expect(error).toBeInstanceOf(SourceRejectedError);
    expect(error).not.toBeInstanceOf(SourceUnauthorizedError);
    expect((error as SourceRejectedError).status).toBe(status);
    expect(server!.seen).toHaveLength(1);
  });

  it('rejects a malformed body with an error naming what is wrong', async () => {
    const client = await clientFor([
      json(200, {
        workspaces: [workspace(1), workspace(2, { status: 'archived', updatedAt: 'yesterday' })],
        asOf: AS_OF,
      }),
    ]);
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceResponseError);
    expect(error.message).toContain('Source listWorkspaces page 1 returned an unexpected body');
    expect(error.message).toContain('workspaces.1.status');
    expect(error.message).toContain('workspaces.1.updatedAt');
    // One answer that cannot be read is not worth hammering: the next run tries again.
    expect(server!.seen).toHaveLength(1);
  });

  it('rejects a page without its list or asOf', async () => {
    const client = await clientFor([json(200, { locations: [location(1)] })]);
    const error = await failure(client.listLocations());
    expect(error).toBeInstanceOf(SourceResponseError);
    expect(error.message).toContain('asOf');
  });

  it('retries a body that is not JSON, then fails retryably', async () => {
    const client = await clientFor(raw(200, '{"workspaces": ['), { attempts: 2 });
    const error = await failure(client.listWorkspaces());
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error.message).toContain('not JSON');
    expect(server!.seen).toHaveLength(2);
  });

  it('never puts the token in an error, whatever the server echoes', async () => {
    const echoIn =
      (status: number, field: string): Responder =>
      (req, res) => {
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ [field]: req.headers.authorization }));
      };
    const reasons: string[] = [];
    for (const responder of [echoIn(500, 'error'), echoIn(400, 'message'), echoIn(403, 'error')]) {
      await server?.stop();
      const client = await clientFor(responder, {
        attempts: 2,
        onRetry: (_op, reason) => reasons.push(reason),
      });
      const error = await failure(client.listLocations());
      expect(error.message).toContain('[redacted]');
      expect(everything(error)).not.toContain(TOKEN);
    }
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).not.toContain(TOKEN);
  });

  it('refuses a page size outside 1..1000 before sending anything', async () => {
    const client = await clientFor(json(200, { locations: [], asOf: AS_OF }));
    await expect(client.listLocations({ limit: 0 })).rejects.toThrow(RangeError);
    await expect(client.listLocations({ limit: 1001 })).rejects.toThrow(RangeError);
    expect(server!.seen).toHaveLength(0);
  });

  it('reports each page call to onCall', async () => {
    const calls: [string, boolean][] = [];
    const client = await clientFor(
      [
        json(200, { locations: [location(1)], nextCursor: 'c-2', asOf: AS_OF }),
        json(400, { error: 'nope' }),
      ],
      { onCall: (operation, _ms, ok) => calls.push([operation, ok]) },
    );
    await failure(client.listLocations());
    expect(calls).toEqual([
      ['listLocations', true],
      ['listLocations', false],
    ]);
  });
});
