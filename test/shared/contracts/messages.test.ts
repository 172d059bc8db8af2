import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES, parseMessage } from '../../../shared/contracts/messages.ts';

const shardCreate = {
  type: 'shard.create',
  version: 1,
  id: '3f0c8a9e-6a51-4c38-9a43-0c1d6f1d2b7e',
  occurredAt: '2026-11-22T10:00:00.000Z',
  data: { businessId: 'biz-1', locationId: 'loc-1', businessType: 'restaurant' },
};

const valid = {
  'shard.create': shardCreate,
  'workspace.created': {
    ...shardCreate,
    type: 'workspace.created',
    data: { workspaceId: 'ws-1', userId: 'user-1', businessId: 'biz-1', locationId: 'loc-1' },
  },
  'workspace.deleted': {
    ...shardCreate,
    type: 'workspace.deleted',
    data: { workspaceId: 'ws-1', userId: 'user-1', businessId: 'biz-1', locationId: 'loc-1' },
  },
  'shard.converge': {
    ...shardCreate,
    type: 'shard.converge',
    data: { shardId: 'shard-001', reason: 'manual', requestedBy: 'ops@example.com' },
  },
} as const;

const identifier = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const invalidIdentifier = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 129, maxLength: 200, unit: fc.constantFrom('a', 'b', '1') }),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9._:-]{1,128}$/.test(s)),
  fc.integer(),
  fc.constant(null),
);

describe('parseMessage', () => {
  it.each(MESSAGE_TYPES)('accepts a valid %s', (type) => {
    const result = parseMessage(JSON.stringify(valid[type]));
    expect(result).toEqual({ ok: true, message: valid[type] });
  });

  it.each([
    ['not json', '{', 'body is not valid JSON'],
    ['an array', '[]', 'body is not a JSON object'],
    [
      'an unknown type',
      JSON.stringify({ ...shardCreate, type: 'shard.delete' }),
      'unknown message type "shard.delete"',
    ],
    [
      'version 2',
      JSON.stringify({ ...shardCreate, version: 2 }),
      'unsupported version 2 of shard.create',
    ],
    [
      'an unknown data field',
      JSON.stringify({ ...shardCreate, data: { ...shardCreate.data, extra: 1 } }),
      'invalid shard.create: data: Unrecognized key: "extra"',
    ],
    [
      'a bad businessType',
      JSON.stringify({ ...shardCreate, data: { ...shardCreate.data, businessType: 'Cafe' } }),
      'invalid shard.create: data.businessType: must match ^[a-z][a-z0-9_-]{0,63}$',
    ],
    [
      'a local timestamp',
      JSON.stringify({ ...shardCreate, occurredAt: '2026-11-22T10:00:00+02:00' }),
      'invalid shard.create: occurredAt: must be an ISO-8601 UTC timestamp',
    ],
  ])('rejects %s with a specific reason', (_name, body, reason) => {
    expect(parseMessage(body)).toEqual({ ok: false, reason });
  });

  it('rejects a type that belongs on another queue', () => {
    const result = parseMessage(JSON.stringify(valid['workspace.created']), ['shard.create']);
    expect(result).toEqual({
      ok: false,
      reason: 'message type workspace.created does not belong on this queue',
    });
  });

  it('rejects a key given twice in one object, where parsers disagree on which one counts', () => {
    const text = JSON.stringify(valid['workspace.created']);
    for (const [body, key] of [
      // JSON.parse alone would take the last type and run a shard.create.
      [
        text.replace(
          '{"type":"workspace.created"',
          '{"type":"workspace.created","type":"shard.create"',
        ),
        'type',
      ],
      [
        text.replace('"workspaceId":"ws-1"', '"workspaceId":"ws-1","workspaceId":"ws-2"'),
        'workspaceId',
      ],
      // The same key spelled with an escape is the same key.
      [text.replace('"userId":', '"\\u0075serId":"u","userId":'), 'userId'],
    ]) {
      expect(parseMessage(body as string)).toEqual({
        ok: false,
        reason: `duplicate key "${key}" in one object of the body`,
      });
    }
    // Equal keys in different objects are not duplicates.
    expect(
      parseMessage(
        JSON.stringify({
          ...valid['workspace.created'],
          extra: { id: 'x', data: [{ id: 1 }, { id: 2 }] },
        }),
      ).ok,
    ).toBe(true);
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.anything().map((v) => JSON.stringify(v) ?? ''),
        ),
        (body) => {
          const result = parseMessage(body);
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed shard.create', () => {
    fc.assert(
      fc.property(
        identifier,
        identifier,
        fc.stringMatching(/^[a-z][a-z0-9_-]{0,63}$/),
        (businessId, locationId, businessType) => {
          const body = { ...shardCreate, data: { businessId, locationId, businessType } };
          expect(parseMessage(JSON.stringify(body)).ok).toBe(true);
        },
      ),
    );
  });

  it('rejects every body with one invalid field', () => {
    const mutation = fc.oneof(
      invalidIdentifier.map((v) => ({ path: ['data', 'businessId'], v: v as unknown })),
      invalidIdentifier.map((v) => ({ path: ['data', 'locationId'], v: v as unknown })),
      invalidIdentifier.map((v) => ({ path: ['id'], v: v as unknown })),
      fc
        .string()
        .filter((s) => !/^[a-z][a-z0-9_-]{0,63}$/.test(s))
        .map((v) => ({ path: ['data', 'businessType'], v: v as unknown })),
      fc
        .oneof(fc.integer(), fc.string())
        .filter((v) => v !== 1)
        .map((v) => ({ path: ['version'], v: v as unknown })),
      fc
        .string()
        .filter((s) => Number.isNaN(Date.parse(s)))
        .map((v) => ({ path: ['occurredAt'], v: v as unknown })),
      fc
        .string({ minLength: 1 })
        .filter((k) => !['businessId', 'locationId', 'businessType', '__proto__'].includes(k))
        .map((k) => ({ path: ['data', k], v: 'x' as unknown })),
      fc
        .constantFrom(['data'], ['type'], ['id'], ['occurredAt'], ['data', 'businessId'])
        .map((path) => ({ path, v: undefined as unknown })),
    );
    fc.assert(
      fc.property(mutation, ({ path, v }) => {
        const body = structuredClone(shardCreate) as Record<string, unknown>;
        const parts = [...path];
        const last = parts.pop() as string;
        const parent = parts.reduce<Record<string, unknown>>(
          (o, p) => o[p] as Record<string, unknown>,
          body,
        );
        if (v === undefined) delete parent[last];
        else parent[last] = v;
        expect(parseMessage(JSON.stringify(body)).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
