import { afterEach, describe, expect, it } from 'vitest';
import {
  CitrusClient,
  CitrusRejectedError,
  CitrusUnavailableError,
} from '../../../shared/adapters/citrus-client.ts';
import { Secret } from '../../../shared/domain/secret.ts';
import {
  hang,
  json,
  type Responder,
  raw,
  startScriptedServer,
} from '../../support/scripted-server.ts';

const API_KEY = 'test-citrus-key-5f1e';
const CONNECTION_SECRET = 'postgres://citrus:hunter2-secret@db:5432/x';
const location = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' };
const registered = json(200, { shardKey: 'key-1', shardId: 'shard-001' });

let server: Awaited<ReturnType<typeof startScriptedServer>> | undefined;
afterEach(() => server?.stop());

async function clientFor(
  script: Responder[],
  options: Partial<ConstructorParameters<typeof CitrusClient>[0]> = {},
) {
  server = await startScriptedServer(script);
  return new CitrusClient({
    baseUrl: server.url,
    apiKey: new Secret(API_KEY),
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

describe('CitrusClient', () => {
  it('registers with Bearer auth and a JSON body', async () => {
    const client = await clientFor([registered]);
    await expect(client.register(location)).resolves.toEqual({
      shardKey: 'key-1',
      shardId: 'shard-001',
    });
    const [request] = server!.seen;
    expect(request).toMatchObject({ method: 'POST', url: '/api/register' });
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(request!.body)).toEqual(location);
  });

  it('retries a 5xx and then succeeds', async () => {
    const retries: number[] = [];
    const client = await clientFor([json(503, { error: 'busy' }), json(500, {}), registered], {
      onRetry: (_op, _reason, attempt) => retries.push(attempt),
    });
    await expect(client.register(location)).resolves.toMatchObject({ shardId: 'shard-001' });
    expect(server!.seen).toHaveLength(3);
    expect(retries).toEqual([1, 2]);
  });

  it('honours Retry-After on 429', async () => {
    const delays: number[] = [];
    const client = await clientFor(
      [json(429, { error: 'slow down' }, { 'retry-after': '0' }), registered],
      {
        baseDelayMs: 10_000,
        maxDelayMs: 10_000,
        onRetry: (_op, _reason, _attempt, delay) => delays.push(delay),
      },
    );
    await expect(client.register(location)).resolves.toMatchObject({ shardId: 'shard-001' });
    expect(delays).toEqual([0]);
  });

  it('gives up after the configured attempts with a retryable error', async () => {
    const client = await clientFor([json(500, { error: 'down' })]);
    const error = await failure(client.register(location));
    expect(error).toBeInstanceOf(CitrusUnavailableError);
    expect(error.message).toMatch(
      /Citrus register failed: POST 127\.0\.0\.1:\d+\/api\/register answered 500: down/,
    );
    expect(server!.seen).toHaveLength(3);
  });

  it('times out a request that never answers, and retries it', async () => {
    const client = await clientFor([hang, registered], { timeoutMs: 100 });
    await expect(client.register(location)).resolves.toMatchObject({ shardId: 'shard-001' });
    expect(server!.seen).toHaveLength(2);
  });

  it('reports a timeout as retryable after the last attempt', async () => {
    const client = await clientFor([hang], { timeoutMs: 50, attempts: 2 });
    const error = await failure(client.register(location));
    expect(error).toBeInstanceOf(CitrusUnavailableError);
    expect(error.message).toContain('timed out after 50 ms');
  });

  it.each([400, 401, 403, 404, 409, 422])('does not retry a permanent %i', async (status) => {
    const client = await clientFor([json(status, { error: 'no such business type' })]);
    const error = await failure(client.register(location));
    expect(error).toBeInstanceOf(CitrusRejectedError);
    expect((error as CitrusRejectedError).status).toBe(status);
    expect(server!.seen).toHaveLength(1);
  });

  it.each([408, 429])('retries %i', async (status) => {
    const client = await clientFor([json(status, {}), registered]);
    await expect(client.register(location)).resolves.toMatchObject({ shardId: 'shard-001' });
  });

  it('treats malformed JSON as retryable', async () => {
    const client = await clientFor([raw(200, '{"shardKey": '), registered]);
    await expect(client.register(location)).resolves.toMatchObject({ shardId: 'shard-001' });
  });

  it('treats a well-formed but wrong body as unavailable, naming the field', async () => {
    const client = await clientFor([json(200, { shardKey: 'k' })], { attempts: 1 });
    const error = await failure(client.register(location));
    expect(error).toBeInstanceOf(CitrusUnavailableError);
    expect(error.message).toContain('shardId');
  });

  it('reports connection refused as retryable', async () => {
    const client = await clientFor([registered], { attempts: 2 });
    await server!.stop();
    const error = await failure(client.register(location));
    expect(error).toBeInstanceOf(CitrusUnavailableError);
    expect(error.message).toContain('could not connect');
  });

  it('drops the connection string from shard details', async () => {
    const shard = {
      shardKey: 'key-1',
      shardId: 'shard-001',
      role: 'database',
      connectionString: CONNECTION_SECRET,
      nodes: [{ nodeId: 'n1', endpoint: 'http://127.0.0.1:9101' }],
    };
    const client = await clientFor([json(200, shard)]);
    const details = await client.getShard('key-1');
    expect(details).toEqual({
      shardKey: 'key-1',
      shardId: 'shard-001',
      role: 'database',
      nodes: shard.nodes,
    });
    expect(JSON.stringify(details)).not.toContain('hunter2');
    expect(server!.seen[0]?.url).toBe('/api/shard/key-1');
  });

  it('pages shard health with cursor and limit', async () => {
    const client = await clientFor([json(200, { shards: [], nextCursor: 'abc' })]);
    await expect(client.shardHealthPage('c1', 50)).resolves.toEqual({
      shards: [],
      nextCursor: 'abc',
    });
    expect(server!.seen[0]?.url).toBe('/api/shards/health?limit=50&cursor=c1');
  });

  it('never puts the API key in an error', async () => {
    const echoKey: Responder = (req, res) => {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ detail: req.headers.authorization }));
    };
    const client = await clientFor([echoKey]);
    const error = await failure(client.register(location));
    expect(`${error.message} ${error.stack} ${JSON.stringify(error)}`).not.toContain(API_KEY);
  });
});
