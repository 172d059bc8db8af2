// The default simulated topology: N shards x M node agents plus a Citrus that knows them.
import type { SigningKeys } from '../../shared/contracts/signing.ts';
import { type CitrusSimulator, startCitrus } from './citrus.ts';
import type { Faults } from './faults.ts';
import { type NodeAgentSimulator, startNodeAgent } from './node-agent.ts';

export interface Fleet {
  citrus: CitrusSimulator;
  /** Every node agent, in shard then node order (runtime additions appended). */
  nodes: NodeAgentSimulator[];
  nodesOf(shardId: string): NodeAgentSimulator[];
  node(nodeId: string): NodeAgentSimulator;
  /**
   * Starts one more node agent on an ephemeral port and registers it with Citrus, the way a
   * node joins a shard in production (the next sweep sees it).
   */
  addNode(shardId: string): Promise<NodeAgentSimulator>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  citrusPort?: number;
  /** Nodes take consecutive ports from here; 0 or omitted = ephemeral ports. */
  firstNodePort?: number;
  shards?: number;
  nodesPerShard?: number;
  apiKey: string;
  signingKeys: SigningKeys;
  nodeFaults?: Faults;
  citrusFaults?: Faults;
}

export const DEFAULT_SHARDS = 4;
export const DEFAULT_NODES_PER_SHARD = 3;
export const FLEET_ROLE = 'database';

export const shardIdOf = (index: number) => `shard-${String(index).padStart(3, '0')}`;
export const nodeIdOf = (shardId: string, index: number) => `${shardId}-node-${index}`;

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const shardCount = opts.shards ?? DEFAULT_SHARDS;
  const perShard = opts.nodesPerShard ?? DEFAULT_NODES_PER_SHARD;
  const firstPort = opts.firstNodePort ?? 0;
  const nodes: NodeAgentSimulator[] = [];
  const shardOfNode = new Map<string, string>();
  let citrus: CitrusSimulator | undefined;
  // Node health follows the node's own `down` fault, however it was set (API or /admin).
  const healthHook = (nodeId: string) => (f: Faults) => citrus?.setNodeHealthy(nodeId, !f.down);

  const plan: Array<{ shardId: string; nodeId: string; port: number }> = [];
  for (let s = 1; s <= shardCount; s++) {
    const shardId = shardIdOf(s);
    for (let n = 1; n <= perShard; n++) {
      plan.push({
        shardId,
        nodeId: nodeIdOf(shardId, n),
        port: firstPort ? firstPort + plan.length : 0,
      });
    }
  }

  const stopAll = async () => {
    await Promise.all([citrus?.stop(), ...nodes.map((n) => n.stop())]);
  };

  try {
    const started = await Promise.allSettled(
      plan.map((p) =>
        startNodeAgent({
          nodeId: p.nodeId,
          port: p.port,
          signingKeys: opts.signingKeys,
          ...(opts.nodeFaults ? { faults: opts.nodeFaults } : {}),
          onFaultsChange: healthHook(p.nodeId),
        }),
      ),
    );
    for (const [i, result] of started.entries()) {
      if (result.status === 'fulfilled') {
        nodes.push(result.value);
        shardOfNode.set(result.value.nodeId, plan[i]!.shardId);
      }
    }
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    citrus = await startCitrus({
      port: opts.citrusPort ?? 0,
      apiKey: opts.apiKey,
      ...(opts.citrusFaults ? { faults: opts.citrusFaults } : {}),
      shards: Array.from({ length: shardCount }, (_, i) => {
        const shardId = shardIdOf(i + 1);
        return {
          shardId,
          role: FLEET_ROLE,
          nodes: nodes
            .filter((n) => shardOfNode.get(n.nodeId) === shardId)
            .map((n) => ({ nodeId: n.nodeId, endpoint: n.url })),
        };
      }),
    });
    if (opts.nodeFaults?.down) for (const n of nodes) citrus.setNodeHealthy(n.nodeId, false);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const liveCitrus = citrus;

  return {
    citrus: liveCitrus,
    nodes,
    nodesOf: (shardId) => nodes.filter((n) => shardOfNode.get(n.nodeId) === shardId),
    node(nodeId) {
      const found = nodes.find((n) => n.nodeId === nodeId);
      if (!found) throw new Error(`unknown node ${nodeId}`);
      return found;
    },
    async addNode(shardId) {
      const count = nodes.filter((n) => shardOfNode.get(n.nodeId) === shardId).length;
      let index = count + 1;
      while (shardOfNode.has(nodeIdOf(shardId, index))) index++;
      const nodeId = nodeIdOf(shardId, index);
      const node = await startNodeAgent({
        nodeId,
        signingKeys: opts.signingKeys,
        onFaultsChange: healthHook(nodeId),
      });
      try {
        liveCitrus.addNode(shardId, { nodeId, endpoint: node.url });
      } catch (error) {
        await node.stop();
        throw error;
      }
      nodes.push(node);
      shardOfNode.set(nodeId, shardId);
      return node;
    },
    stop: stopAll,
  };
}
