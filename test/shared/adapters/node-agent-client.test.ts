import { afterEach, describe, expect, it } from 'vitest';
import { type NodeAgentSimulator, startNodeAgent } from '../../../local/simulators/node-agent.ts';
import {
  fanOut,
  NodeAgentClient,
  NodeAgentError,
} from '../../../shared/adapters/node-agent-client.ts';
import type { SigningKeys } from '../../../shared/contracts/signing.ts';
import { Secret } from '../../../shared/domain/secret.ts';
import { hang, startScriptedServer } from '../../support/scripted-server.ts';

const KEYS: SigningKeys = { current: { id: 'k2', secret: 'node-secret-current' } };
const schema = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' };

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function agent(keys: SigningKeys = KEYS): Promise<NodeAgentSimulator> {
  const node = await startNodeAgent({ nodeId: 'n1', port: 0, signingKeys: keys });
  running.push(node);
  return node;
}

const client = (keys: SigningKeys = KEYS, timeoutMs = 500) =>
  new NodeAgentClient({ signingKeys: new Secret(keys), timeoutMs });

describe('NodeAgentClient against the node agent simulator', () => {
  it('signs requests the agent accepts and reports result words', async () => {
    const node = await agent();
    const c = client();
    await expect(c.health(node.url)).resolves.toMatchObject({ nodeId: 'n1', status: 'ok' });
    await expect(c.putSchema(node.url, schema)).resolves.toBe('created');
    await expect(c.putSchema(node.url, schema)).resolves.toBe('unchanged');
    await expect(c.listSchemas(node.url)).resolves.toEqual([schema]);
    await expect(c.putStore(node.url, 'ws-1')).resolves.toBe('monitoring_started');
    await expect(c.putStore(node.url, 'ws-1')).resolves.toBe('already_monitored');
    await expect(c.listStores(node.url)).resolves.toEqual(['ws-1']);
    await expect(c.deleteStore(node.url, 'ws-1')).resolves.toBe('monitoring_stopped');
    // 404 with a result word is an answer, not a failure.
    await expect(c.deleteStore(node.url, 'ws-1')).resolves.toBe('not_monitored');
    await expect(c.deleteSchema(node.url, 'biz-1', 'loc-1')).resolves.toBe('deleted');
    await expect(c.deleteSchema(node.url, 'biz-1', 'loc-1')).resolves.toBe('not_found');
  });

  it('applies batches', async () => {
    const node = await agent();
    const result = await client().apply(node.url, 'stores', { ensure: ['a', 'b'], remove: ['c'] });
    expect(result.results.map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
    expect([...node.state.stores].sort()).toEqual(['a', 'b']);
  });

  it('refuses to send more than 1,000 ids in one apply', async () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `ws-${i}`);
    await expect(
      client().apply('http://127.0.0.1:1', 'stores', { ensure: ids, remove: [] }),
    ).rejects.toThrow(RangeError);
  });

  it('is rejected by an agent that holds another key, without leaking the secret', async () => {
    const node = await agent({ current: { id: 'k2', secret: 'a-different-secret' } });
    const error = await client()
      .putSchema(node.url, schema)
      .catch((e: unknown) => e as NodeAgentError);
    expect(error).toBeInstanceOf(NodeAgentError);
    expect((error as NodeAgentError).status).toBe(401);
    expect(
      JSON.stringify({ m: (error as Error).message, s: (error as Error).stack }),
    ).not.toContain('node-secret-current');
    expect(node.state.schemas.size).toBe(0);
  });

  it('times out an agent that never answers', async () => {
    const server = await startScriptedServer([hang]);
    running.push(server);
    await expect(client(KEYS, 100).putStore(server.url, 'ws-1')).rejects.toThrow(
      /timed out after 100 ms/,
    );
  });
});

describe('fanOut', () => {
  it('returns one outcome per node and never more than the limit in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const nodes = Array.from({ length: 10 }, (_, i) => ({ nodeId: `n${i}`, endpoint: 'x' }));
    const outcomes = await fanOut(nodes, 3, async (node) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (node.nodeId === 'n4') throw new Error('offline');
      return node.nodeId;
    });
    expect(peak).toBe(3);
    expect(outcomes.map((o) => o.ok)).toEqual(nodes.map((n) => n.nodeId !== 'n4'));
    expect(outcomes[4]).toEqual({ nodeId: 'n4', ok: false, error: 'offline' });
  });
});
