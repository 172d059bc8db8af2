// Role `database`: two resource kinds, `schema` (one per business location) and `store` (one
// per workspace). Per node: reachability check, list what the node holds, remove orphans and
// known deletes, ensure what is missing, in `:apply` batches of at most 1,000 ids; a node that
// has just joined gets everything ensured without listing.
import { DONE_RESULTS, type SchemaSpec } from '../../contracts/node-agent.ts';
import { applyBatches, planKind } from '../convergence-plan.ts';
import { errorMessage } from '../errors.ts';
import type { NodeAgentPort } from '../ports.ts';
import type { NodeRecord, ResourceRecord } from '../records.ts';
import type { NodeConvergence, RoleContext, RoleStrategy } from './index.ts';

const schemaId = (s: { businessId: string; locationId: string }) =>
  `${s.businessId}/${s.locationId}`;
/** Identifiers cannot contain '/', so a schema id splits back unambiguously. */
const schemaRef = (id: string) => {
  const [businessId = '', locationId = ''] = id.split('/');
  return { businessId, locationId };
};

interface Desired<Spec> {
  desired: Map<string, Spec>;
  deleted: Set<string>;
}

/** Only `active` resources are desired; `deleting`/`deleted` ones are known deletes. */
function desiredState(resources: ResourceRecord[]) {
  const schemas: Desired<SchemaSpec> = { desired: new Map(), deleted: new Set() };
  const stores: Desired<string> = { desired: new Map(), deleted: new Set() };
  for (const r of resources) {
    if (r.kind === 'schema' && r.businessId && r.locationId) {
      const id = schemaId({ businessId: r.businessId, locationId: r.locationId });
      if (r.status === 'active') {
        schemas.desired.set(id, {
          businessId: r.businessId,
          locationId: r.locationId,
          businessType: r.businessType ?? '',
        });
      } else schemas.deleted.add(id);
    } else if (r.kind === 'store' && r.workspaceId) {
      if (r.status === 'active') stores.desired.set(r.workspaceId, r.workspaceId);
      else stores.deleted.add(r.workspaceId);
    }
  }
  return { schemas, stores };
}

/** Ids in a batch the agent did not confirm as done. */
function unconfirmed(ids: string[], results: Array<{ id: string; result: string }>): string[] {
  const done = new Set(results.filter((r) => DONE_RESULTS.has(r.result)).map((r) => r.id));
  return ids.filter((id) => !done.has(id));
}

export function databaseStrategy(agent: NodeAgentPort): RoleStrategy {
  return {
    forShard(context) {
      const { schemas, stores } = desiredState(context.resources);
      return (node) => convergeNode(node, context, schemas, stores);
    },
  };

  async function convergeNode(
    node: NodeRecord,
    context: RoleContext,
    schemas: Desired<SchemaSpec>,
    stores: Desired<string>,
  ): Promise<NodeConvergence> {
    const endpoint = node.endpoint;
    try {
      const health = (await agent.health(endpoint)) as { nodeId?: string };
      // An endpoint that answers as another node (a reused address) must not get this node's state.
      if (health.nodeId !== undefined && health.nodeId !== node.nodeId) {
        return {
          nodeId: node.nodeId,
          ok: false,
          error: `endpoint ${endpoint} answers as node ${health.nodeId}`,
        };
      }
    } catch (error) {
      return {
        nodeId: node.nodeId,
        ok: false,
        unreachable: true,
        error: `unreachable: ${errorMessage(error)}`,
      };
    }
    const orphans: Record<string, Record<string, string>> = {};
    const joining = node.status === 'joining';
    /** One kind: list what the node holds, then apply the plan batch by batch. */
    const sync = async <Spec>(
      kind: 'schemas' | 'stores',
      want: Desired<Spec>,
      list: () => Promise<string[]>,
      apply: (batch: {
        ensure: Spec[];
        remove: string[];
      }) => Promise<{ results: Array<{ id: string; result: string }> }>,
      idOf: (spec: Spec) => string,
    ): Promise<string[]> => {
      try {
        // A node that has just joined holds nothing we know of: ensure everything without
        // listing first (a new node then costs 1 + one request per 1,000 resources). Orphans
        // and known deletes on it are found by the next convergence, which lists as usual.
        const plan = joining
          ? { ensure: [...want.desired.values()], remove: [], orphans: {} }
          : planKind({
              ...want,
              actual: new Set(await list()),
              orphansSeen: node.orphans?.[kind] ?? {},
              now: context.now,
              graceMs: context.orphanGraceMs,
            });
        orphans[kind] = plan.orphans;
        const failures: string[] = [];
        // Verification is the agent's per-id answer to each apply: listing again afterwards
        // would cost two more requests per node, and the next convergence lists anyway.
        for (const batch of applyBatches(plan)) {
          const { results } = await apply(batch);
          const missing = unconfirmed([...batch.remove, ...batch.ensure.map(idOf)], results);
          if (missing.length)
            failures.push(`${kind}: ${missing.length} not applied (first ${missing[0]})`);
        }
        return failures;
      } catch (error) {
        return [`${kind}: ${errorMessage(error)}`];
      }
    };
    // The two kinds are independent: converge them side by side (3 round trips, not 5).
    const failures = (
      await Promise.all([
        sync(
          'schemas',
          schemas,
          async () => (await agent.listSchemas(endpoint)).map(schemaId),
          (batch) =>
            agent.apply(endpoint, 'schemas', {
              ensure: batch.ensure,
              remove: batch.remove.map(schemaRef),
            }),
          schemaId,
        ),
        sync(
          'stores',
          stores,
          () => agent.listStores(endpoint),
          (batch) => agent.apply(endpoint, 'stores', batch),
          (id) => id,
        ),
      ])
    ).flat();
    return failures.length
      ? { nodeId: node.nodeId, ok: false, error: failures.join('; '), orphans }
      : { nodeId: node.nodeId, ok: true, orphans };
  }
}
