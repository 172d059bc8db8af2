// The chaos run's checker: the end state every node should hold, derived from the newest event
// per workspace and every location, against what each node agent actually holds.
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { NodeAgentSimulator } from '../../local/simulators/node-agent.ts';
import type { LocalStack } from '../../local/stack.ts';
import type { Message, ShardCreateData } from '../../shared/contracts/messages.ts';
import { keys } from '../../shared/store/schema.ts';

export interface Expectation {
  locations: ShardCreateData[];
  /** Workspaces whose newest event is a creation: id -> location key `businessId#locationId`. */
  workspaces: Map<string, string>;
}

const locationKey = (l: { businessId: string; locationId: string }) =>
  `${l.businessId}#${l.locationId}`;

/** The newest event per workspace decides (a delete wins a tie, as the handler orders them). */
export function expectationOf(locations: ShardCreateData[], events: Message[]): Expectation {
  const newest = new Map<string, Message>();
  for (const e of events) {
    if (e.type !== 'workspace.created' && e.type !== 'workspace.deleted') continue;
    const seen = newest.get(e.data.workspaceId);
    const later =
      !seen ||
      e.occurredAt > seen.occurredAt ||
      (e.occurredAt === seen.occurredAt && e.type === 'workspace.deleted');
    if (later) newest.set(e.data.workspaceId, e);
  }
  const workspaces = new Map<string, string>();
  for (const [id, e] of newest) {
    if (e.type === 'workspace.created') workspaces.set(id, locationKey(e.data));
  }
  return { locations, workspaces };
}

export interface StateCheck {
  /** Expected on a node (or a location never placed) and missing. */
  lost: number;
  /** On a node and not expected. */
  unexpected: number;
  unplacedLocations: string[];
  /** A few examples of each, for the report. */
  examples: string[];
}

/** The shard a simulated node belongs to, from its id (`<shardId>-node-<n>`). */
export const shardOfNode = (node: NodeAgentSimulator) => node.nodeId.replace(/-node-\d+$/, '');

/**
 * Compares every node still in the topology (`nodes`) with the expectation. The shard of a
 * location is the one shard-control recorded (Citrus' answer); a location without one counts as
 * lost once, with its workspaces.
 */
export async function checkState(
  stack: LocalStack,
  nodes: NodeAgentSimulator[],
  expected: Expectation,
): Promise<StateCheck> {
  const doc = DynamoDBDocumentClient.from(stack.ddb);
  const shardOf = new Map<string, string>();
  const unplaced: string[] = [];
  for (const l of expected.locations) {
    const out = await doc.send(
      new GetCommand({
        TableName: stack.tableName,
        Key: keys.location(l.businessId, l.locationId),
        ConsistentRead: true,
      }),
    );
    const shardId = out.Item?.shardId as string | undefined;
    if (shardId) shardOf.set(locationKey(l), shardId);
    else unplaced.push(locationKey(l));
  }
  const examples: string[] = [];
  const note = (what: string) => {
    if (examples.length < 10) examples.push(what);
  };
  let lost = unplaced.length;
  for (const [id, loc] of expected.workspaces) {
    if (!shardOf.has(loc)) {
      lost++;
      note(`store ${id}: location ${loc} never placed`);
    }
  }
  let unexpected = 0;
  for (const node of nodes) {
    const shard = shardOfNode(node);
    const schemas = new Set(
      expected.locations.map(locationKey).filter((k) => shardOf.get(k) === shard),
    );
    const stores = new Set(
      [...expected.workspaces].filter(([, loc]) => shardOf.get(loc) === shard).map(([id]) => id),
    );
    const compare = (kind: string, want: Set<string>, have: Iterable<string>) => {
      const held = new Set(have);
      for (const k of want) {
        if (!held.has(k)) {
          lost++;
          note(`${node.nodeId}: ${kind} ${k} missing`);
        }
      }
      for (const k of held) {
        if (!want.has(k)) {
          unexpected++;
          note(`${node.nodeId}: ${kind} ${k} unexpected`);
        }
      }
    };
    compare('schema', schemas, node.state.schemas.keys());
    compare('store', stores, node.state.stores);
  }
  return { lost, unexpected, unplacedLocations: unplaced, examples };
}

/**
 * Mutating requests a node answered with success, per resource: more than one for a resource
 * is duplicate work (harmless: the agent's operations are idempotent), and `:apply` batches.
 */
export function nodeMutations(nodes: NodeAgentSimulator[]) {
  const perResource = new Map<string, number>();
  let applies = 0;
  for (const node of nodes) {
    for (const r of node.requests) {
      if (r.status < 200 || r.status >= 300) continue;
      if (r.method === 'POST' && r.path.endsWith(':apply')) applies++;
      else if (r.method === 'PUT' || r.method === 'DELETE') {
        const key = `${node.nodeId} ${r.method} ${r.path}`;
        perResource.set(key, (perResource.get(key) ?? 0) + 1);
      }
    }
  }
  const counts = [...perResource.values()];
  return {
    singleResourceMutations: counts.reduce((a, b) => a + b, 0),
    maxPerPlacement: Math.max(0, ...counts),
    placementsMutatedMoreThanOnce: counts.filter((c) => c > 1).length,
    applyBatches: applies,
  };
}
