import { describe, expect, it, vi } from 'vitest';
import { PermanentError, TransientError } from '../../../shared/domain/errors.ts';
import { SharedReads } from '../../../shared/domain/pool.ts';
import type { ClaimResult, DomainPorts, Stores } from '../../../shared/domain/ports.ts';
import type { NodeRecord } from '../../../shared/domain/records.ts';
import {
  createShardForLocation,
  RegistrationInProgressError,
  type ShardLookups,
} from '../../../shared/domain/shard-creation.ts';

const location = { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' };
const shard = {
  shardId: 'shard-001',
  role: 'database',
  nodes: [
    { nodeId: 'n1', endpoint: 'http://n1' },
    { nodeId: 'n2', endpoint: 'http://n2' },
  ],
};

function node(nodeId: string, status: NodeRecord['status']): NodeRecord {
  return {
    shardId: 'shard-001',
    nodeId,
    endpoint: `http://${nodeId}`,
    status,
    version: 1,
    createdAt: '',
    updatedAt: '',
  };
}

type Claim = ClaimResult;

function ports(
  overrides: { claim?: Claim; nodes?: NodeRecord[]; failing?: string[]; waiting?: boolean } = {},
) {
  const state = {
    claimLocation: vi.fn(async (): Promise<Claim> => overrides.claim ?? { outcome: 'claimed' }),
    recordTopology: vi.fn(async () => ({ shardCreated: true })),
    putSchemaResource: vi.fn(async () => undefined),
    completeLocation: vi.fn(async () => ({ workspacesWaiting: overrides.waiting ?? false })),
    failLocation: vi.fn(async () => undefined),
    releaseLocation: vi.fn(async () => undefined),
    listNodes: vi.fn(async () => overrides.nodes ?? [node('n1', 'active'), node('n2', 'active')]),
    markNodePendingSync: vi.fn(async () => true),
    listPendingWorkspaces: vi.fn(async () => []),
  };
  const citrus = {
    register: vi.fn(async () => ({ shardKey: 'key-1', shardId: 'shard-001' })),
    getShard: vi.fn(async () => shard),
  };
  const nodes = {
    putSchema: vi.fn(async () => 'created'),
    putStore: vi.fn(),
    deleteStore: vi.fn(),
  };
  const fanOut = vi.fn(
    async (targets: NodeRecord[], operation: (endpoint: string) => Promise<unknown>) =>
      Promise.all(
        targets.map(async (n) => {
          if (overrides.failing?.includes(n.nodeId))
            return { nodeId: n.nodeId, ok: false as const, error: 'ECONNREFUSED' };
          await operation(n.endpoint);
          return { nodeId: n.nodeId, ok: true as const };
        }),
      ),
  );
  // The stores this flow uses, each method a spy named after what it does.
  const stores = {
    locations: {
      claim: state.claimLocation,
      complete: state.completeLocation,
      fail: state.failLocation,
      release: state.releaseLocation,
    },
    shards: { recordTopology: state.recordTopology },
    resources: { putSchema: state.putSchemaResource },
    nodes: { list: state.listNodes, markPendingSync: state.markNodePendingSync },
    workspaces: { listPendingAt: state.listPendingWorkspaces },
  } as unknown as Stores;
  const all = { state, citrus, nodes, fanOut };
  return Object.assign(all, {
    ports: { stores, citrus, agent: nodes, fanOut } as unknown as DomainPorts,
  });
}

describe('createShardForLocation', () => {
  it('registers, records topology, schema and assignment in that order, then pushes', async () => {
    const p = ports();
    const result = await createShardForLocation(location, 'msg-1', p.ports);
    expect(result).toEqual({
      shardId: 'shard-001',
      registered: true,
      succeeded: ['n1', 'n2'],
      pendingSync: [],
      workspacesPlaced: 0,
    });
    expect(p.citrus.register).toHaveBeenCalledWith(location);
    expect(p.citrus.getShard).toHaveBeenCalledWith('key-1');
    expect(p.state.recordTopology).toHaveBeenCalledWith(shard);
    const order = [p.state.recordTopology, p.state.putSchemaResource, p.state.completeLocation].map(
      (fn) => fn.mock.invocationCallOrder[0],
    );
    expect(order).toEqual([...order].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(p.state.completeLocation).toHaveBeenCalledWith(location, {
      shardKey: 'key-1',
      shardId: 'shard-001',
    });
    expect(p.nodes.putSchema).toHaveBeenCalledTimes(2);
    expect(p.nodes.putSchema).toHaveBeenCalledWith('http://n1', location);
    // No workspace noted that it waits for the location: no query for any.
    expect(p.state.listPendingWorkspaces).not.toHaveBeenCalled();
  });

  it('looks for waiting workspaces when one noted it waits, whether registered now or before', async () => {
    const registeredNow = ports({ waiting: true });
    await createShardForLocation(location, 'msg-1', registeredNow.ports);
    expect(registeredNow.state.listPendingWorkspaces).toHaveBeenCalledWith(location);
    const assigned = { outcome: 'assigned', shardId: 'shard-001', shardKey: 'key-1' } as const;
    const before = ports({ claim: { ...assigned, workspacesWaiting: true } });
    await createShardForLocation(location, 'msg-2', before.ports);
    expect(before.state.listPendingWorkspaces).toHaveBeenCalledWith(location);
    const nobody = ports({ claim: { ...assigned, workspacesWaiting: false } });
    await createShardForLocation(location, 'msg-3', nobody.ports);
    expect(nobody.state.listPendingWorkspaces).not.toHaveBeenCalled();
  });

  it('looks a shard up and records its topology once for the locations of a batch', async () => {
    const p = ports();
    const lookups: ShardLookups = new SharedReads();
    const second = { ...location, locationId: 'loc-2' };
    const results = await Promise.all([
      createShardForLocation(location, 'msg-1', p.ports, lookups),
      createShardForLocation(second, 'msg-2', p.ports, lookups),
    ]);
    expect(results.map((r) => [r.shardId, r.registered, r.succeeded])).toEqual([
      ['shard-001', true, ['n1', 'n2']],
      ['shard-001', true, ['n1', 'n2']],
    ]);
    expect(p.citrus.register).toHaveBeenCalledTimes(2);
    expect(p.citrus.getShard).toHaveBeenCalledOnce();
    expect(p.state.recordTopology).toHaveBeenCalledOnce();
    expect(p.state.completeLocation).toHaveBeenCalledTimes(2);
    expect(p.nodes.putSchema).toHaveBeenCalledWith('http://n2', second);
    // Another batch looks again: a shard's nodes change.
    await createShardForLocation({ ...location, locationId: 'loc-3' }, 'msg-3', p.ports);
    expect(p.citrus.getShard).toHaveBeenCalledTimes(2);
  });

  it('lets the next location of the batch look a shard up again after a failed lookup', async () => {
    const p = ports();
    p.citrus.getShard.mockRejectedValueOnce(new TransientError('Citrus answered 503'));
    const lookups: ShardLookups = new SharedReads();
    await expect(createShardForLocation(location, 'msg-1', p.ports, lookups)).rejects.toThrow(
      'Citrus answered 503',
    );
    expect(p.state.releaseLocation).toHaveBeenCalledOnce();
    const result = await createShardForLocation(
      { ...location, locationId: 'loc-2' },
      'msg-2',
      p.ports,
      lookups,
    );
    expect(result).toMatchObject({ shardId: 'shard-001', registered: true });
    expect(p.citrus.getShard).toHaveBeenCalledTimes(2);
  });

  it('does not call Citrus for a location that already has an assignment, but still pushes', async () => {
    const p = ports({
      claim: {
        outcome: 'assigned',
        shardId: 'shard-001',
        shardKey: 'key-1',
        workspacesWaiting: false,
      },
    });
    const result = await createShardForLocation(location, 'msg-2', p.ports);
    expect(result.registered).toBe(false);
    expect(p.citrus.register).not.toHaveBeenCalled();
    expect(p.state.completeLocation).not.toHaveBeenCalled();
    expect(p.nodes.putSchema).toHaveBeenCalledTimes(2);
  });

  it('retries later while another delivery holds the claim', async () => {
    const p = ports({ claim: { outcome: 'busy' } });
    await expect(createShardForLocation(location, 'msg-3', p.ports)).rejects.toBeInstanceOf(
      RegistrationInProgressError,
    );
    expect(p.citrus.register).not.toHaveBeenCalled();
  });

  it('marks failing nodes pending_sync without failing', async () => {
    const p = ports({ failing: ['n2'] });
    const result = await createShardForLocation(location, 'msg-4', p.ports);
    expect(result.pendingSync).toEqual([{ nodeId: 'n2', error: 'ECONNREFUSED' }]);
    expect(p.state.markNodePendingSync).toHaveBeenCalledExactlyOnceWith(
      'shard-001',
      'n2',
      'schema push failed: ECONNREFUSED',
    );
  });

  it('never pushes to decommissioned nodes', async () => {
    const p = ports({
      nodes: [node('n1', 'active'), node('n2', 'decommissioned'), node('n3', 'pending_sync')],
    });
    const result = await createShardForLocation(location, 'msg-5', p.ports);
    expect(result.succeeded).toEqual(['n1', 'n3']);
  });

  it('marks the location failed on a permanent Citrus error', async () => {
    const p = ports();
    p.citrus.register.mockRejectedValueOnce(new PermanentError('Citrus register failed: 400'));
    await expect(createShardForLocation(location, 'msg-6', p.ports)).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(p.state.failLocation).toHaveBeenCalledWith(location, 'Citrus register failed: 400');
    expect(p.state.releaseLocation).not.toHaveBeenCalled();
  });

  it('releases the claim on a transient error so the retry can take it', async () => {
    const p = ports();
    p.citrus.getShard.mockRejectedValueOnce(new TransientError('Citrus getShard failed: 503'));
    await expect(createShardForLocation(location, 'msg-7', p.ports)).rejects.toBeInstanceOf(
      TransientError,
    );
    // Citrus answered before the failure: the release keeps the answer for the retry.
    expect(p.state.releaseLocation).toHaveBeenCalledWith(location, 'msg-7', {
      shardKey: 'key-1',
      shardId: 'shard-001',
    });
    expect(p.state.completeLocation).not.toHaveBeenCalled();
    expect(p.nodes.putSchema).not.toHaveBeenCalled();
  });

  it('releases without an answer when registering itself failed', async () => {
    const p = ports();
    p.citrus.register.mockRejectedValueOnce(new TransientError('Citrus register failed: 503'));
    await expect(createShardForLocation(location, 'msg-7', p.ports)).rejects.toBeInstanceOf(
      TransientError,
    );
    expect(p.state.releaseLocation).toHaveBeenCalledWith(location, 'msg-7', undefined);
  });

  it('does not register again when an earlier delivery got Citrus to answer', async () => {
    const p = ports({
      claim: { outcome: 'claimed', registeredAs: { shardKey: 'key-1', shardId: 'shard-001' } },
    });
    const result = await createShardForLocation(location, 'msg-9', p.ports);
    expect(p.citrus.register).not.toHaveBeenCalled();
    expect(p.citrus.getShard).toHaveBeenCalledWith('key-1');
    expect(p.state.completeLocation).toHaveBeenCalledWith(location, {
      shardKey: 'key-1',
      shardId: 'shard-001',
    });
    expect(result).toMatchObject({ shardId: 'shard-001', registered: true });
  });

  it('refuses inconsistent Citrus answers', async () => {
    const p = ports();
    p.citrus.getShard.mockResolvedValueOnce({ ...shard, shardId: 'shard-999' });
    await expect(createShardForLocation(location, 'msg-8', p.ports)).rejects.toThrow(
      /placed the location on shard-001/,
    );
  });
});
