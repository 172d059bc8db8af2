// Issue 3 acceptance: the local stack against "the other team's" Citrus and node agents
// (CITRUS_SERVER_URL): it starts no simulators of its own, and the external nodes receive
// requests signed with the local keys (the node simulator rejects bad signatures with 401).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL } from '../../local/defaults.ts';
import { type Fleet, startFleet } from '../../local/simulators/fleet.ts';
import type { LocalStack } from '../../local/stack.ts';
import { createEnvelope } from '../../shared/contracts/producer.ts';
import { SigningKeys } from '../../shared/contracts/signing.ts';
import {
  locationRecord,
  nodeRecords,
  requestsTo,
  schemaKeyOf,
  schemaPath,
  startTestStack,
  stopAndCheckPorts,
} from './support.ts';

describe('local stack with an external Citrus', () => {
  let fleet: Fleet;
  let stack: LocalStack;

  beforeAll(async () => {
    fleet = await startFleet({
      shards: 2,
      nodesPerShard: 2,
      apiKey: LOCAL.citrusApiKey,
      signingKeys: SigningKeys.parse(JSON.parse(LOCAL.nodeSigningKeys)),
    });
    stack = await startTestStack({ citrusServerUrl: fleet.citrus.url });
  }, 60_000);
  afterAll(async () => {
    await stopAndCheckPorts(stack);
    await fleet?.stop();
  }, 30_000);

  it('starts no simulators of its own and points the functions at the external Citrus', () => {
    expect(stack.fleet).toBeUndefined();
    expect(stack.endpoints.nodes).toEqual([]);
    expect(stack.endpoints.citrus).toBe(fleet.citrus.url);
  });

  it('registers with the external Citrus and initialises the schema on its nodes with signed requests', async () => {
    const loc = { businessId: 'biz-external', locationId: 'loc-1' };
    const registrations = fleet.citrus.registrations;
    await stack.sendMessage(createEnvelope('shard.create', { ...loc, businessType: 'dentist' }));
    await stack.waitForIdle(20_000);

    expect(fleet.citrus.registrations - registrations).toBe(1);
    const record = await locationRecord(stack, loc);
    expect(record).toMatchObject({ status: 'active', shardId: expect.stringMatching(/^shard-/) });
    const nodes = fleet.nodesOf(record!.shardId!);
    expect(nodes).toHaveLength(2);
    for (const node of nodes) {
      expect(node.state.schemas.get(schemaKeyOf(loc))).toEqual({ ...loc, businessType: 'dentist' });
      const puts = requestsTo(node, 'PUT', schemaPath(loc));
      expect(puts).toEqual([
        { method: 'PUT', path: schemaPath(loc), keyId: 'local-1', status: 201 },
      ]);
    }
    // Nothing the stack sent to any external node was refused (401 = bad signature).
    const all = fleet.nodes.flatMap((n) => n.requests);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((r) => r.status < 200 || r.status >= 300)).toEqual([]);
    expect(new Set(all.map((r) => r.keyId))).toEqual(new Set(['local-1']));
    // Node records name the external endpoints.
    const recorded = await nodeRecords(stack, record!.shardId!);
    expect(recorded.map((n) => n.endpoint).sort()).toEqual(nodes.map((n) => n.url).sort());
    expect(recorded.map((n) => n.status)).toEqual(['active', 'active']);
  }, 30_000);
});
