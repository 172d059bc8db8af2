import { CfnResource, type IResource } from 'aws-cdk-lib';

/** Metadata key on every resource the local stack needs to find in the synthesized template. */
export const RESOURCE_METADATA_KEY = 'shard-control';

export type ResourceMarker =
  | { kind: 'queue'; name: string; dlq: string }
  | { kind: 'dlq'; name: string; sourceQueue?: string }
  | { kind: 'table'; name: string }
  | { kind: 'function'; name: string; sourceQueue?: string }
  | { kind: 'schedule'; name: string }
  | { kind: 'event-source-mapping'; name: string; sourceQueue: string };

const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

export function assertStage(stage: string): void {
  // The stage ends up in queue, table, function, alarm and policy names: keep it short and safe.
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(`stage must match ${STAGE_PATTERN} (got '${stage}')`);
  }
}

export { physicalName } from '../shared/contracts/names.ts';

/** `shard-creation` -> `ShardCreation`. */
export const pascal = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

const LOGICAL_ID_PREFIX: Record<ResourceMarker['kind'], string> = {
  queue: 'Queue',
  dlq: 'Queue',
  table: 'Table',
  function: 'Function',
  schedule: 'Schedule',
  'event-source-mapping': 'EventSourceMapping',
};

/**
 * Gives the resource a stable, readable logical ID (e.g. `QueueShardCreation`,
 * `QueueShardCreationDlq`, `FunctionShardCreation`) and a `shard-control` metadata entry,
 * so the local stack can map template resources to contract names without guessing.
 */
export function markResource(resource: IResource | CfnResource, marker: ResourceMarker): void {
  const cfn = resource instanceof CfnResource ? resource : resource.node.defaultChild;
  if (!(cfn instanceof CfnResource)) {
    throw new Error(`markResource: ${resource.node.path} has no CloudFormation resource`);
  }
  const suffix = marker.kind === 'table' ? '' : pascal(marker.name);
  cfn.overrideLogicalId(`${LOGICAL_ID_PREFIX[marker.kind]}${suffix}`);
  cfn.addMetadata(RESOURCE_METADATA_KEY, marker);
}
