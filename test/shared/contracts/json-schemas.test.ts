import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateJsonSchemas,
  SCHEMAS_DIR,
  schemaFileOf,
  staleSchemaFiles,
  UNION_FILE,
  writeJsonSchemas,
} from '../../../shared/contracts/export-json-schemas.ts';
import {
  MESSAGE_TYPES,
  type MessageType,
  parseMessage,
} from '../../../shared/contracts/messages.ts';

type Schema = {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  oneOf?: Schema[];
};

// The keywords the mini validator below understands; annotations are ignored by JSON Schema.
const ASSERTIONS = new Set([
  'type',
  'const',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'properties',
  'required',
  'additionalProperties',
  'oneOf',
]);
const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'format']);

function keywordsUsed(schema: Schema, out = new Set<string>()): Set<string> {
  for (const [key, value] of Object.entries(schema)) {
    out.add(key);
    if (key === 'properties') {
      for (const child of Object.values(value as Record<string, Schema>)) keywordsUsed(child, out);
    }
    if (key === 'oneOf') for (const child of value as Schema[]) keywordsUsed(child, out);
  }
  return out;
}

/** A tiny validator for exactly the keywords listed in ASSERTIONS (no extra dependency). */
function validates(schema: Schema, value: unknown): boolean {
  if (schema.oneOf) return schema.oneOf.filter((s) => validates(s, value)).length === 1;
  switch (schema.type) {
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      break;
    case 'string':
      if (typeof value !== 'string') return false;
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      break;
    case undefined:
      break;
    default:
      throw new Error(`type ${schema.type} not supported by the test validator`);
  }
  if ('const' in schema && value !== schema.const) return false;
  if (schema.enum && !schema.enum.includes(value)) return false;
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return false;
    if (schema.minLength !== undefined && length < schema.minLength) return false;
    if (schema.maxLength !== undefined && length > schema.maxLength) return false;
  }
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) return false;
    for (const [key, child] of Object.entries(record)) {
      const property = schema.properties?.[key];
      if (property) {
        if (!validates(property, child)) return false;
      } else if (schema.additionalProperties === false) {
        return false;
      }
    }
  }
  return true;
}

const envelope = { version: 1, id: 'evt-1', occurredAt: '2026-11-22T10:00:00.000Z' };
const ws = { workspaceId: 'ws-1', userId: 'user-1', businessId: 'biz-1', locationId: 'loc-1' };
const VALID: Record<MessageType, Record<string, unknown>> = {
  'shard.create': {
    type: 'shard.create',
    ...envelope,
    data: { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' },
  },
  'workspace.created': { type: 'workspace.created', ...envelope, data: ws },
  'workspace.deleted': { type: 'workspace.deleted', ...envelope, data: ws },
  'shard.converge': {
    type: 'shard.converge',
    ...envelope,
    id: '3f0c8a9e-6a51-4c38-9a43-0c1d6f1d2b7e',
    data: { shardId: 'shard-001', reason: 'drift', requestedBy: 'ops@example.com' },
  },
};

const clone = <T>(value: T): T => structuredClone(value);
const at = (root: Record<string, unknown>, path: readonly string[]) =>
  path.reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, root);
const setAt = (root: Record<string, unknown>, path: readonly string[], value: unknown) => {
  const copy = clone(root);
  at(copy, path.slice(0, -1))[path[path.length - 1] as string] = value;
  return copy;
};

const STRINGS = [
  '',
  'a',
  'Z9._:-',
  'has space',
  'slash/no',
  'UPPER',
  'é',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  '2026-11-22T10:00:00Z',
  '2026-11-22T10:00:00+02:00',
  '2026-02-30T10:00:00.000Z',
  '2024-02-29T23:59:59.999Z',
  'manual',
  'retry',
  'nope',
];

/** Valid sample plus mutations driven by the schema: every required, strict object and pattern. */
function samples(schema: Schema, valid: Record<string, unknown>) {
  const out: Array<{ what: string; value: Record<string, unknown> }> = [
    { what: 'valid', value: valid },
  ];
  const walk = (node: Schema, path: string[]) => {
    if (node.type === 'object') {
      for (const key of node.required ?? []) {
        const copy = clone(valid);
        delete at(copy, path)[key];
        out.push({ what: `without ${[...path, key].join('.')}`, value: copy });
      }
      // Both strict and non-strict objects are probed: the schema must match either way.
      out.push({
        what: `extra field in ${path.join('.') || 'envelope'}`,
        value: setAt(valid, [...path, 'extra'], 1),
      });
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key]);
      return;
    }
    const label = path.join('.');
    out.push({ what: `${label} = number`, value: setAt(valid, path, 7) });
    out.push({ what: `${label} = null`, value: setAt(valid, path, null) });
    if (node.type === 'string') {
      for (const s of STRINGS)
        out.push({ what: `${label} = ${JSON.stringify(s)}`, value: setAt(valid, path, s) });
    }
    if (node.type === 'number') {
      for (const n of [0, 2, 1.5])
        out.push({ what: `${label} = ${n}`, value: setAt(valid, path, n) });
    }
  };
  walk(schema, []);
  return out;
}

const committed = (name: string) =>
  JSON.parse(readFileSync(join(SCHEMAS_DIR, name), 'utf8')) as Schema;

describe('committed JSON Schemas', () => {
  it('equal what npm run schemas generates', () => {
    const generated = generateJsonSchemas();
    expect([...generated.keys()].sort()).toEqual(
      [...MESSAGE_TYPES.map(schemaFileOf), UNION_FILE].sort(),
    );
    for (const [name, content] of generated) {
      expect(readFileSync(join(SCHEMAS_DIR, name), 'utf8'), name).toBe(content);
    }
    expect(staleSchemaFiles()).toEqual([]);
  });

  it('generation is deterministic and --check detects drift and leftovers', () => {
    expect(generateJsonSchemas()).toEqual(generateJsonSchemas());
    const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
    try {
      expect(staleSchemaFiles(dir)).toHaveLength(MESSAGE_TYPES.length + 1);
      writeJsonSchemas(dir);
      expect(staleSchemaFiles(dir)).toEqual([]);
      writeFileSync(join(dir, 'shard.create.schema.json'), '{}\n');
      writeFileSync(join(dir, 'gone.schema.json'), '{}\n');
      expect(staleSchemaFiles(dir)).toEqual(['gone.schema.json', 'shard.create.schema.json']);
      writeJsonSchemas(dir);
      expect(staleSchemaFiles(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(MESSAGE_TYPES)('%s schema has draft 2020-12, $id, title and description', (type) => {
    const schema = committed(schemaFileOf(type)) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toEqual(expect.stringContaining(schemaFileOf(type)));
    expect(schema.title).toEqual(expect.stringContaining(type));
    expect(schema.description).toEqual(expect.any(String));
  });

  it('use only keywords the test validator understands', () => {
    for (const name of [...MESSAGE_TYPES.map(schemaFileOf), UNION_FILE]) {
      const unknown = [...keywordsUsed(committed(name))].filter(
        (k) => !ASSERTIONS.has(k) && !ANNOTATIONS.has(k),
      );
      expect(unknown, name).toEqual([]);
    }
  });
});

describe('JSON Schemas agree with parseMessage', () => {
  const union = committed(UNION_FILE);

  it.each(MESSAGE_TYPES)('%s: required, additionalProperties and patterns', (type) => {
    const schema = committed(schemaFileOf(type));
    const cases = samples(schema, VALID[type]);
    expect(cases.length).toBeGreaterThan(50);
    let rejected = 0;
    for (const { what, value } of cases) {
      const parsed = parseMessage(JSON.stringify(value)).ok;
      if (!parsed) rejected++;
      expect(validates(schema, value), `${type} ${what}`).toBe(parsed);
      expect(validates(union, value), `union ${type} ${what}`).toBe(parsed);
    }
    expect(validates(schema, VALID[type])).toBe(true);
    expect(rejected).toBeGreaterThan(10);
  });

  it('the union rejects unknown types and a body of the wrong type per schema', () => {
    const wrongType = { ...VALID['shard.create'], type: 'shard.delete' };
    expect(validates(union, wrongType)).toBe(false);
    expect(parseMessage(JSON.stringify(wrongType)).ok).toBe(false);
    const crossed = { ...VALID['shard.create'], type: 'workspace.created' };
    expect(validates(union, crossed)).toBe(false);
    expect(validates(committed(schemaFileOf('shard.create')), VALID['shard.converge'])).toBe(false);
  });
});
