import { describe, expect, it, vi } from 'vitest';
import { PermanentError, TransientError } from '../../../shared/domain/errors.ts';
import type { NodeRecord } from '../../../shared/domain/records.ts';
import {
  createShardForLocation,
  RegistrationInProgressError,
  type ShardCreationPorts,
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
    pk: 'SHARD#shard-001',
    sk: `NODE#${nodeId}`,
    shardId: 'shard-001',
    nodeId,
    endpoint: `http://${nodeId}`,
    status,
    version: 1,
    createdAt: '',
    updatedAt: '',
  };
}

function ports(
  overrides: {
    claim?: Awaited<ReturnType<ShardCreationPorts['repository']['claimLocation']>>;
    nodes?: NodeRecord[];
    failing?: string[];
  } = {},
) {
  const repository = {
    claimLocation: vi.fn(async () => overrides.claim ?? ({ outcome: 'claimed' } as const)),
    recordTopology: vi.fn(async () => ({ shardCreated: true })),
    putSchemaResource: vi.fn(async () => undefined),
    completeLocation: vi.fn(async () => undefined),
    failLocation: vi.fn(async () => undefined),
    releaseLocation: vi.fn(async () => undefined),
    listNodes: vi.fn(async () => overrides.nodes ?? [node('n1', 'active'), node('n2', 'active')]),
    markNodePendingSync: vi.fn(async () => true),
  };
  const citrus = {
    register: vi.fn(async () => ({ shardKey: 'key-1', shardId: 'shard-001' })),
    getShard: vi.fn(async () => shard),
  };
  const pushSchema = vi.fn(async (nodes: NodeRecord[]) =>
    nodes.map((n) =>
      overrides.failing?.includes(n.nodeId)
        ? { nodeId: n.nodeId, ok: false as const, error: 'ECONNREFUSED' }
        : { nodeId: n.nodeId, ok: true as const },
    ),
  );
  return { repository, citrus, pushSchema };
}

describe('createShardForLocation', () => {
  it('registers, records topology, schema and assignment in that order, then pushes', async () => {
    const p = ports();
    const result = await createShardForLocation(location, 'msg-1', p);
    expect(result).toEqual({
      shardId: 'shard-001',
      registered: true,
      nodesInitialised: ['n1', 'n2'],
      nodesPendingSync: [],
    });
    expect(p.citrus.register).toHaveBeenCalledWith(location);
    expect(p.citrus.getShard).toHaveBeenCalledWith('key-1');
    expect(p.repository.recordTopology).toHaveBeenCalledWith(shard);
    const order = [
      p.repository.recordTopology,
      p.repository.putSchemaResource,
      p.repository.completeLocation,
    ].map((fn) => fn.mock.invocationCallOrder[0]);
    expect(order).toEqual([...order].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(p.repository.completeLocation).toHaveBeenCalledWith(location, {
      shardKey: 'key-1',
      shardId: 'shard-001',
    });
    expect(p.pushSchema).toHaveBeenCalledWith(expect.any(Array), location);
  });

  it('does not call Citrus for a location that already has an assignment, but still pushes', async () => {
    const p = ports({ claim: { outcome: 'assigned', shardId: 'shard-001', shardKey: 'key-1' } });
    const result = await createShardForLocation(location, 'msg-2', p);
    expect(result.registered).toBe(false);
    expect(p.citrus.register).not.toHaveBeenCalled();
    expect(p.repository.completeLocation).not.toHaveBeenCalled();
    expect(p.pushSchema).toHaveBeenCalledOnce();
  });

  it('retries later while another delivery holds the claim', async () => {
    const p = ports({ claim: { outcome: 'busy' } });
    await expect(createShardForLocation(location, 'msg-3', p)).rejects.toBeInstanceOf(
      RegistrationInProgressError,
    );
    expect(p.citrus.register).not.toHaveBeenCalled();
  });

  it('marks failing nodes pending_sync without failing', async () => {
    const p = ports({ failing: ['n2'] });
    const result = await createShardForLocation(location, 'msg-4', p);
    expect(result.nodesPendingSync).toEqual([{ nodeId: 'n2', error: 'ECONNREFUSED' }]);
    expect(p.repository.markNodePendingSync).toHaveBeenCalledExactlyOnceWith(
      'shard-001',
      'n2',
      'schema push failed: ECONNREFUSED',
    );
  });

  it('never pushes to decommissioned nodes', async () => {
    const p = ports({
      nodes: [node('n1', 'active'), node('n2', 'decommissioned'), node('n3', 'pending_sync')],
    });
    const result = await createShardForLocation(location, 'msg-5', p);
    expect(result.nodesInitialised).toEqual(['n1', 'n3']);
  });

  it('marks the location failed on a permanent Citrus error', async () => {
    const p = ports();
    p.citrus.register.mockRejectedValueOnce(new PermanentError('Citrus register failed: 400'));
    await expect(createShardForLocation(location, 'msg-6', p)).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(p.repository.failLocation).toHaveBeenCalledWith(location, 'Citrus register failed: 400');
    expect(p.repository.releaseLocation).not.toHaveBeenCalled();
  });

  it('releases the claim on a transient error so the retry can take it', async () => {
    const p = ports();
    p.citrus.getShard.mockRejectedValueOnce(new TransientError('Citrus getShard failed: 503'));
    await expect(createShardForLocation(location, 'msg-7', p)).rejects.toBeInstanceOf(
      TransientError,
    );
    expect(p.repository.releaseLocation).toHaveBeenCalledWith(location, 'msg-7');
    expect(p.repository.completeLocation).not.toHaveBeenCalled();
    expect(p.pushSchema).not.toHaveBeenCalled();
  });

  it('refuses inconsistent Citrus answers', async () => {
    const p = ports();
    p.citrus.getShard.mockResolvedValueOnce({ ...shard, shardId: 'shard-999' });
    await expect(createShardForLocation(location, 'msg-8', p)).rejects.toThrow(
      /placed the location on shard-001/,
    );
  });
});
