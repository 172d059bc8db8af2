// Role `database`: two resource kinds, `schema` (one per business location) and `store` (one
// per workspace). Per node: reachability check, list what the node holds, remove orphans and
// known deletes, ensure what is missing, in `:apply` batches of at most 1,000 ids.
import { DONE_RESULTS, type SchemaSpec } from '../../contracts/node-agent.ts';
import { applyBatches, planKind } from '../convergence-plan.ts';
import { errorMessage } from '../errors.ts';
import { mapSettled } from '../pool.ts';
import type { NodeAgentPort } from '../ports.ts';
import type { NodeRecord, ResourceRecord } from '../records.ts';
import type { NodeConvergence, RoleContext, RoleStrategy } from './index.ts';

const schemaId = (s: { businessId: string; locationId: string }) =>
  `${s.businessId}/${s.locationId}`;

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

export function databaseStrategy(agent: NodeAgentPort, nodeParallelism: number): RoleStrategy {
  return {
    async converge(nodes, context) {
      const { schemas, stores } = desiredState(context.resources);
      const settled = await mapSettled(nodes, nodeParallelism, (node) =>
        convergeNode(node, context, schemas, stores),
      );
      return settled.map((s, i) =>
        s.status === 'fulfilled'
          ? s.value
          : { nodeId: (nodes[i] as NodeRecord).nodeId, ok: false, error: errorMessage(s.reason) },
      );
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
      return { nodeId: node.nodeId, ok: false, error: `unreachable: ${errorMessage(error)}` };
    }
    const failures: string[] = [];
    const orphans: Record<string, Record<string, string>> = {};
    const plan = <Spec>(kind: string, want: Desired<Spec>, actual: string[]) => {
      const p = planKind({
        ...want,
        actual: new Set(actual),
        orphansSeen: node.orphans?.[kind] ?? {},
        now: context.now,
        graceMs: context.orphanGraceMs,
      });
      orphans[kind] = p.orphans;
      return applyBatches(p);
    };

    // Verification is the agent's per-id answer to each apply: listing again afterwards would
    // cost two more requests per node, and the next convergence lists anyway.
    try {
      for (const batch of plan(
        'schemas',
        schemas,
        (await agent.listSchemas(endpoint)).map(schemaId),
      )) {
        const remove = batch.remove.map((id) => {
          const [businessId = '', locationId = ''] = id.split('/');
          return { businessId, locationId };
        });
        const { results } = await agent.apply(endpoint, 'schemas', {
          ensure: batch.ensure,
          remove,
        });
        const missing = unconfirmed([...batch.remove, ...batch.ensure.map(schemaId)], results);
        if (missing.length)
          failures.push(`schemas: ${missing.length} not applied (first ${missing[0]})`);
      }
    } catch (error) {
      failures.push(`schemas: ${errorMessage(error)}`);
    }
    try {
      for (const batch of plan('stores', stores, await agent.listStores(endpoint))) {
        const { results } = await agent.apply(endpoint, 'stores', batch);
        const missing = unconfirmed([...batch.remove, ...batch.ensure], results);
        if (missing.length)
          failures.push(`stores: ${missing.length} not applied (first ${missing[0]})`);
      }
    } catch (error) {
      failures.push(`stores: ${errorMessage(error)}`);
    }
    return failures.length
      ? { nodeId: node.nodeId, ok: false, error: failures.join('; '), orphans }
      : { nodeId: node.nodeId, ok: true, orphans };
  }
}
