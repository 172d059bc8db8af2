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
