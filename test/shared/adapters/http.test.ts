import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, sendJson } from '../../../shared/adapters/http.ts';
import { json, type Responder, startScriptedServer } from '../../support/scripted-server.ts';

/** Drops the connection without answering, as a server that closed an idle socket would. */
const dropConnection: Responder = (_req, res) => {
  (res.socket as Socket).destroy();
};

const servers: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
const serve = async (script: Responder[]) => {
  const server = await startScriptedServer(script);
  servers.push(server);
  return server;
};
const get = (url: string) => sendJson({ method: 'GET', url: `${url}/v1/health`, timeoutMs: 2_000 });

describe('sendJson', () => {
  it('sends a request again, once, when a kept-alive socket turns out to be closed', async () => {
    const server = await serve([json(200, { n: 1 }), dropConnection, json(200, { n: 2 })]);
    expect((await get(server.url)).json).toEqual({ n: 1 });
    // The second request goes out on the kept-alive socket, which the server drops.
    expect((await get(server.url)).json).toEqual({ n: 2 });
    expect(server.seen).toHaveLength(3);
  });

  it('does not resend when a fresh connection fails: the error is the caller’s to retry', async () => {
    const server = await serve([dropConnection, json(200, { n: 1 })]);
    const error = await get(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ retryable: true, message: expect.stringMatching(/ECONNRESET/) });
    expect(server.seen).toHaveLength(1);
  });

  it('sends a string body with its byte length, multi-byte characters included', async () => {
    const server = await serve([json(200, {})]);
    const body = JSON.stringify({ name: 'Café Zürich ☕' });
    await sendJson({ method: 'POST', url: `${server.url}/x`, body, timeoutMs: 2_000 });
    expect(server.seen[0]).toMatchObject({ body });
    expect(server.seen[0]?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });
});

describe('sendJson headers', () => {
  it('sends what node:http would for a header record: Host, accept, Content-Length where due', async () => {
    const server = await serve([json(200, {})]);
    const port = new URL(server.url).port;
    await sendJson({ method: 'GET', url: `${server.url}/a?q=1`, timeoutMs: 2_000 });
    await sendJson({
      method: 'PUT',
      url: `${server.url}/b`,
      headers: { Accept: 'text/plain', 'X-Key-Id': 'k1' },
      timeoutMs: 2_000,
    });
    await sendJson({ method: 'DELETE', url: `${server.url}/c`, timeoutMs: 2_000 });
    const [get, put, del] = server.seen;
    expect(get).toMatchObject({ method: 'GET', url: '/a?q=1' });
    expect(get?.headers).toMatchObject({ host: `127.0.0.1:${port}`, accept: 'application/json' });
    expect(get?.headers).not.toHaveProperty('content-length');
    // A bodyless PUT states its empty body, as node:http does, rather than going chunked.
    expect(put?.headers).toMatchObject({
      accept: 'text/plain',
      'x-key-id': 'k1',
      'content-length': '0',
    });
    expect(put?.headers).not.toHaveProperty('transfer-encoding');
    expect(del?.headers).not.toHaveProperty('content-length');
    for (const seen of server.seen) expect(seen.headers.connection).toBe('keep-alive');
  });

  it('takes a parsed URL as it is', async () => {
    const server = await serve([json(200, { ok: true })]);
    const url = new URL('/v1/x?y=%2F', server.url);
    const response = await sendJson({ method: 'GET', url, timeoutMs: 2_000 });
    expect(response.json).toEqual({ ok: true });
    expect(server.seen[0]?.url).toBe('/v1/x?y=%2F');
  });

  it('sends credentials in the URL as Basic auth and names neither in errors', async () => {
    const server = await serve([json(200, {})]);
    const url = server.url.replace('http://', 'http://us%40er:p%3Ass@');
    await sendJson({ method: 'GET', url: `${url}/x`, timeoutMs: 2_000 });
    expect(server.seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
    );
    const error = await sendJson({
      method: 'GET',
      url: 'http://user:hunter2@127.0.0.1:1/x',
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(String((error as Error).message)).not.toMatch(/hunter2|user/);
  });

  it('still refuses a header value node:http would refuse, without echoing it', async () => {
    const server = await serve([json(200, {})]);
    const error = await sendJson({
      method: 'GET',
      url: `${server.url}/x`,
      headers: { authorization: 'Bearer secret-token\r\nx-injected: 1' },
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toMatch(/secret-token/);
    expect(server.seen).toHaveLength(0);
  });
});
