// Publishes the SQS message bodies (README "Message contract") as JSON Schema (draft 2020-12)
// for producers that do not run TypeScript. Generated from the zod schemas in messages.ts,
// never hand-edited:
//   npm run schemas             writes schemas/*.schema.json
//   npm run schemas -- --check  exits 1 if the committed files are stale
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod/mini';
import {
  MESSAGE_TYPES,
  Message,
  type MessageType,
  QUEUE_OF_TYPE,
  ShardConvergeMessage,
  ShardCreateMessage,
  WorkspaceCreatedMessage,
  WorkspaceDeletedMessage,
} from './messages.ts';
import './zod.ts';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
export const UNION_FILE = 'message.schema.json';
const ID_PREFIX = 'urn:shard-control:schemas:';

const SCHEMA_OF_TYPE: Record<MessageType, z.ZodMiniType> = {
  'shard.create': ShardCreateMessage,
  'workspace.created': WorkspaceCreatedMessage,
  'workspace.deleted': WorkspaceDeletedMessage,
  'shard.converge': ShardConvergeMessage,
};

const PURPOSE: Record<MessageType, string> = {
  'shard.create':
    "Register a business location with Citrus and create its schema on the shard's nodes.",
  'workspace.created':
    "A workspace was created: monitor its store (id = workspaceId) on its location's shard.",
  'workspace.deleted':
    "A workspace was deleted: stop monitoring its store on its location's shard.",
  'shard.converge': "Converge one shard's nodes to the desired state recorded by shard-control.",
};

const ENVELOPE_FIELDS: Record<string, string> = {
  type: 'Message type; selects the schema of data.',
  version: 'Envelope version, 1 today.',
  id: "The producer's event id: 1..128 of [A-Za-z0-9._:-] (a UUID fits).",
  occurredAt: 'ISO-8601 UTC timestamp set by the producer (orders workspace events).',
  data: 'Type-specific payload: ids only, never state. Unknown fields are rejected.',
};

export const schemaFileOf = (type: MessageType) => `${type}.schema.json`;

// Schema keywords first in reading order, the rest alphabetically: output must not depend on
// the order in which zod happens to emit keys, or `--check` would flap between versions.
const KEYWORD_ORDER = [
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'properties',
  'required',
  'additionalProperties',
  'oneOf',
  'discriminator',
  '$defs',
];
const rank = (key: string) => {
  const i = KEYWORD_ORDER.indexOf(key);
  return i === -1 ? KEYWORD_ORDER.length : i;
};

function ordered(node: unknown, isNameMap = false): unknown {
  if (Array.isArray(node)) return node.map((item) => ordered(item));
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node as Record<string, unknown>);
  if (isNameMap) {
    // Property names keep the contract's order; their values are schemas.
    return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v)]));
  }
  entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(
    entries.map(([k, v]) => [k, ordered(v, k === 'properties' || k === '$defs')]),
  );
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema> };

// `io: 'input'` describes what a consumer accepts: unknown envelope fields are tolerated
// (stripped by zod), unknown `data` fields are not (strict objects).
const toJsonSchema = (schema: z.ZodMiniType) =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;

function describeEnvelope(schema: JsonSchema): JsonSchema {
  for (const [field, description] of Object.entries(ENVELOPE_FIELDS)) {
    const property = schema.properties?.[field];
    if (property) property.description = description;
  }
  return schema;
}

function messageSchema(type: MessageType): JsonSchema {
  const schema = describeEnvelope(toJsonSchema(SCHEMA_OF_TYPE[type]));
  return {
    ...schema,
    $id: `${ID_PREFIX}${schemaFileOf(type)}`,
    title: `${type} message (v1)`,
    description: `${PURPOSE[type]} SQS queue: ${QUEUE_OF_TYPE[type]}.`,
  };
}

function unionSchema(): JsonSchema {
  const schema = toJsonSchema(Message);
  const variants = (schema.oneOf ?? []) as JsonSchema[];
  for (const variant of variants) {
    const type = (variant.properties?.type as { const?: MessageType } | undefined)?.const;
    describeEnvelope(variant);
    if (type) variant.title = `${type} message (v1)`;
  }
  return {
    ...schema,
    $id: `${ID_PREFIX}${UNION_FILE}`,
    title: 'shard-control message (v1)',
    description:
      'Any shard-control SQS message body; `type` selects the variant. A body that does not validate is poison: moved to the DLQ, never retried.',
  };
}

/** File name -> exact file content (2-space JSON, trailing newline). Pure and deterministic. */
export function generateJsonSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  const write = (name: string, schema: JsonSchema) =>
    files.set(name, `${JSON.stringify(ordered(schema), null, 2)}\n`);
  for (const type of MESSAGE_TYPES) write(schemaFileOf(type), messageSchema(type));
  write(UNION_FILE, unionSchema());
  return files;
}

/** Names of files that are missing, different, or no longer generated (stale leftovers). */
export function staleSchemaFiles(dir = SCHEMAS_DIR): string[] {
  const expected = generateJsonSchemas();
  const stale: string[] = [];
  for (const [name, content] of expected) {
    const path = join(dir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) stale.push(name);
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.schema.json') && !expected.has(name)) stale.push(name);
    }
  }
  return stale.sort();
}

export function writeJsonSchemas(dir = SCHEMAS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const files = generateJsonSchemas();
  for (const [name, content] of files) writeFileSync(join(dir, name), content);
  // A removed message type must not leave its schema behind.
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.schema.json') && !files.has(name)) rmSync(join(dir, name));
  }
  return [...files.keys()];
}

function main(argv: readonly string[]): number {
  if (argv.includes('--check')) {
    const stale = staleSchemaFiles();
    if (stale.length === 0) {
      console.log(`schemas/ is up to date (${generateJsonSchemas().size} files)`);
      return 0;
    }
    console.error(`schemas/ is stale: ${stale.join(', ')}\nrun: npm run schemas`);
    return 1;
  }
  const written = writeJsonSchemas();
  console.log(`wrote ${written.map((name) => `schemas/${name}`).join(', ')}`);
  return 0;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) {
  process.exitCode = main(process.argv.slice(2));
}
