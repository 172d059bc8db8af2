import * as z from 'zod/mini';
import './zod.ts';

export const RESOURCE_KINDS = ['schemas', 'stores'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/**
 * Result words meaning "done", whether or not the call changed anything
 * (docs/node-agent-api.md). `updated` is an extension: agents may answer it when a schema's
 * type changes.
 */
export const DONE_RESULTS: ReadonlySet<string> = new Set([
  'created',
  'unchanged',
  'updated',
  'deleted',
  'not_found',
  'monitoring_started',
  'already_monitored',
  'monitoring_stopped',
  'not_monitored',
]);

/** At most this many ids per `:apply` request (docs/node-agent-api.md). */
export const MAX_APPLY_IDS = 1000;

export const SchemaRef = z.object({ businessId: z.string(), locationId: z.string() });
export const SchemaSpec = z.extend(SchemaRef, { businessType: z.string() });

export const HealthResponse = z.object({
  nodeId: z.string(),
  status: z.literal('ok'),
  version: z.string(),
});
export const SchemaList = z.object({ schemas: z.array(SchemaSpec) });
export const StoreList = z.object({ storeIds: z.array(z.string()) });
export const ResultResponse = z.object({ result: z.string() });
export const ApplyResponse = z.object({
  results: z.array(z.object({ id: z.string(), result: z.string() })),
});

export type SchemaRef = z.infer<typeof SchemaRef>;
export type SchemaSpec = z.infer<typeof SchemaSpec>;
export type HealthResponse = z.infer<typeof HealthResponse>;
export type ApplyResponse = z.infer<typeof ApplyResponse>;
export interface SchemaApplyRequest {
  ensure: SchemaSpec[];
  remove: SchemaRef[];
}
export interface StoreApplyRequest {
  ensure: string[];
  remove: string[];
}
