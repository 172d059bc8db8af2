// Fuzzing the message boundary: 10,000 generated and mutated bodies (valid envelopes, envelopes
// with one field broken, random JSON and text, huge and deeply nested bodies, unicode in ids,
// keys given twice) go through the real SQS consumer and the real parser in batches of 10, as
// Lambda delivers them. Every invalid body must reach the DLQ exactly once with a reason that
// says what is wrong with it, and every valid body beside it must be processed exactly once.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceMessage } from '../../../shared/contracts/messages.ts';
import { consumerTestEnv } from '../../support/consumer-env.ts';

/** Printed on failure by fast-check with the path to the shrunk counterexample. */
const SEED = 20_261_122;
const BATCHES = 1000;
const BATCH_SIZE = 10;
/** Message attribute that ties a DLQ send back to its case (the consumer keeps attributes). */
const CASE_ATTRIBUTE = 'fuzzCase';

type Case =
  | { kind: string; body: string; valid: true; message: WorkspaceMessage }
  | { kind: string; body: string; valid: false; reason: RegExp };

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,128}$/;
const DATA_FIELDS = ['workspaceId', 'userId', 'businessId', 'locationId'] as const;
const WORKSPACE_TYPES = ['workspace.created', 'workspace.deleted'] as const;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (s: string) => new RegExp(`^${escapeRe(s)}$`);
/** The reason zod gives for a field: the type, then the path of the field. */
const fieldReason = (path: string) =>
  new RegExp(`^invalid workspace\\.(created|deleted): ${escapeRe(path)}: \\S`);

const identifier = fc.stringMatching(IDENTIFIER);
const envelope: fc.Arbitrary<WorkspaceMessage> = fc
  .record({
    type: fc.constantFrom(...WORKSPACE_TYPES),
    id: identifier,
    occurredAt: fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    data: fc.record({
      workspaceId: identifier,
      userId: identifier,
      businessId: identifier,
      locationId: identifier,
    }),
  })
  .map(({ type, id, occurredAt, data }) => ({ type, version: 1 as const, id, occurredAt, data }));

const valid = (kind: string, message: WorkspaceMessage, body = JSON.stringify(message)): Case => ({
  kind,
  body,
  valid: true,
  message,
});
const invalid = (kind: string, body: string, reason: RegExp): Case => ({
  kind,
  body,
  valid: false,
  reason,
});

/** Anything but a string: what a producer with the wrong types sends. */
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);
/** Strings outside the identifier alphabet or length: unicode (lone surrogates too), spaces, 129+. */
const badIdentifier = fc.oneof(
  fc.constant(''),
  fc.string({ unit: fc.constantFrom('a', '1', '-'), minLength: 129, maxLength: 300 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !IDENTIFIER.test(s)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !IDENTIFIER.test(s)),
  fc.constantFrom('wörkspace', 'ws-🦀', 'ws\u200b1', 'ws 1', 'ws/1', 'ws\u00001', 'مساحة', 'ws-１'),
);
const badTimestamp = fc.oneof(
  fc.constantFrom(
    '2026-11-22T10:00:00+02:00',
    '2026-11-22',
    '2026-11-22 10:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-22T10:00:00.000z',
    'yesterday',
    '',
  ),
  fc.string().filter((s) => !/^\d{4}-/.test(s)),
);

/** Sets (or with `undefined`, deletes) the field at `path` of a copy of the message. */
function mutate(message: WorkspaceMessage, path: string[], value: unknown): string {
  const body = structuredClone(message) as unknown as Record<string, unknown>;
  const parent = path
    .slice(0, -1)
    .reduce<Record<string, unknown>>((o, p) => o[p] as Record<string, unknown>, body);
  const last = path[path.length - 1]!;
  if (value === undefined) delete parent[last];
  // defineProperty: an own `__proto__` key, as JSON.parse would create it.
  else Object.defineProperty(parent, last, { value, enumerable: true, writable: true });
  return JSON.stringify(body);
}

const brokenField: fc.Arbitrary<Case> = fc.oneof(
  fc
    .tuple(
      envelope,
      fc.oneof(
        fc.constant(undefined),
        notAString,
        fc
          .string()
          .filter((t) => !['shard.create', 'shard.converge', ...WORKSPACE_TYPES].includes(t)),
      ),
    )
    .map(([m, v]) => invalid('type', mutate(m, ['type'], v), /^unknown message type "/)),
  fc
    .tuple(envelope, fc.constantFrom('shard.create', 'shard.converge'))
    .map(([m, v]) =>
      invalid(
        'other queue',
        mutate(m, ['type'], v),
        exactly(`message type ${v} does not belong on this queue`),
      ),
    ),
  fc
    .tuple(
      envelope,
      fc.oneof(
        fc.constant(undefined),
        fc.jsonValue().filter((v) => v !== 1),
      ),
    )
    .map(([m, v]) =>
      invalid('version', mutate(m, ['version'], v), /^unsupported version .* of workspace\./),
    ),
  fc
    .tuple(envelope, fc.oneof(fc.constant(undefined), notAString, badIdentifier))
    .map(([m, v]) => invalid('id', mutate(m, ['id'], v), fieldReason('id'))),
  fc
    .tuple(envelope, fc.oneof(fc.constant(undefined), notAString, badTimestamp))
    .map(([m, v]) =>
      invalid('occurredAt', mutate(m, ['occurredAt'], v), fieldReason('occurredAt')),
    ),
  fc
    .tuple(
      envelope,
      fc.oneof(
        fc.constant(undefined),
        fc.constant(null),
        fc.string(),
        fc.integer(),
        fc.array(fc.string()),
      ),
    )
    .map(([m, v]) => invalid('data', mutate(m, ['data'], v), fieldReason('data'))),
  fc
    .tuple(
      envelope,
      fc.constantFrom(...DATA_FIELDS),
      fc.oneof(fc.constant(undefined), notAString, badIdentifier),
    )
    .map(([m, field, v]) =>
      invalid(`data.${field}`, mutate(m, ['data', field], v), fieldReason(`data.${field}`)),
    ),
  fc
    .tuple(
      envelope,
      fc
        .oneof(fc.constant('__proto__'), fc.string({ minLength: 1 }))
        .filter((k) => !(DATA_FIELDS as readonly string[]).includes(k)),
      fc.jsonValue(),
    )
    .map(([m, key, v]) =>
      invalid(
        'data unknown key',
        mutate(m, ['data', key], v ?? 0),
        /^invalid workspace\.\w+: data: Unrecognized key/,
      ),
    ),
);

/** Ids with characters outside the contract's alphabet, in every identifier field. */
const unicodeIds: fc.Arbitrary<Case> = fc
  .tuple(
    envelope,
    fc.constantFrom<string[]>(['id'], ...DATA_FIELDS.map((f) => ['data', f])),
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
      .filter((s) => [...s].some((ch) => ch.codePointAt(0)! > 0x7f)),
    fc.nat(),
  )
  .map(([m, path, chars, at]) => {
    const parent =
      path.length === 1
        ? (m as unknown as Record<string, string>)
        : (m.data as Record<string, string>);
    const old = parent[path[path.length - 1]!]!;
    const cut = at % (old.length + 1);
    return invalid(
      'unicode id',
      mutate(m, path, old.slice(0, cut) + chars + old.slice(cut)),
      fieldReason(path.join('.')),
    );
  });

/** What a non-object JSON text or a random object is rejected for. */
const jsonReason = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? /^unknown message type "/
    : exactly('body is not a JSON object');

const randomJson: fc.Arbitrary<Case> = fc.oneof(
  fc
    .jsonValue({ maxDepth: 6 })
    .map((v) => invalid('random json', JSON.stringify(v), jsonReason(v))),
  fc.anything({ maxDepth: 4, withNullPrototype: true, withObjectString: true }).map((v) => {
    const body = JSON.stringify(v) ?? 'undefined';
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return invalid('random value', body, exactly('body is not valid JSON'));
    }
    return invalid('random value', body, jsonReason(parsed));
  }),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => {
    try {
      return invalid('random text', s, jsonReason(JSON.parse(s)));
    } catch {
      return invalid('random text', s, exactly('body is not valid JSON'));
    }
  }),
  // A valid body cut short is never valid JSON: its closing brace is gone.
  fc.tuple(envelope, fc.nat()).map(([m, at]) => {
    const text = JSON.stringify(m);
    return invalid('truncated', text.slice(0, at % text.length), exactly('body is not valid JSON'));
  }),
);

/** SQS takes bodies up to 256 KiB; these stay just inside. */
const huge: fc.Arbitrary<Case> = fc.oneof(
  // Unknown top-level fields are allowed (only `data` is strict): a huge one is harmless.
  fc
    .tuple(envelope, fc.integer({ min: 100_000, max: 250_000 }))
    .map(([m, n]) => valid('huge valid', m, JSON.stringify({ ...m, padding: 'x'.repeat(n) }))),
  fc
    .tuple(envelope, fc.integer({ min: 100_000, max: 250_000 }))
    .map(([m, n]) =>
      invalid(
        'huge id',
        mutate(m, ['data', 'workspaceId'], 'w'.repeat(n)),
        fieldReason('data.workspaceId'),
      ),
    ),
  fc
    .integer({ min: 10_000, max: 60_000 })
    .map((n) =>
      invalid('huge array', `[${'0,'.repeat(n)}0]`, exactly('body is not a JSON object')),
    ),
  fc
    .integer({ min: 100_000, max: 250_000 })
    .map((n) =>
      invalid('huge text', `{"type":"${'a'.repeat(n)}`, exactly('body is not valid JSON')),
    ),
);

const nested = (depth: number, inner: string) =>
  `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
const deep: fc.Arbitrary<Case> = fc.oneof(
  fc
    .integer({ min: 1000, max: 20_000 })
    .map((d) =>
      invalid(
        'deep array',
        `${'['.repeat(d)}${']'.repeat(d)}`,
        exactly('body is not a JSON object'),
      ),
    ),
  fc
    .integer({ min: 1000, max: 20_000 })
    .map((d) => invalid('deep object', nested(d, '1'), /^unknown message type "undefined"$/)),
  fc.tuple(envelope, fc.integer({ min: 1000, max: 10_000 })).map(([m, d]) => {
    const text = JSON.stringify(m).replace(
      `"workspaceId":${JSON.stringify(m.data.workspaceId)}`,
      `"workspaceId":${nested(d, '"w"')}`,
    );
    return invalid('deep id', text, fieldReason('data.workspaceId'));
  }),
  fc
    .tuple(envelope, fc.integer({ min: 1000, max: 10_000 }))
    .map(([m, d]) =>
      valid('deep extra field', m, `${JSON.stringify(m).slice(0, -1)},"trace":${nested(d, '[]')}}`),
    ),
);

/**
 * A key twice in one object. JSON.parse would keep the last one; the parser rejects the body
 * instead, whether the two values agree or not and however the key is spelled.
 */
const duplicateKeys: fc.Arbitrary<Case> = fc
  .tuple(
    envelope,
    fc.constantFrom('type', 'version', 'id', 'occurredAt', 'data', ...DATA_FIELDS),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([m, key, sameValue, escaped]) => {
    const inData = (DATA_FIELDS as readonly string[]).includes(key);
    const holder = (inData ? m.data : m) as unknown as Record<string, unknown>;
    const value = sameValue
      ? holder[key]
      : key === 'type'
        ? 'shard.create'
        : key === 'version'
          ? 2
          : 'other';
    const spelled = escaped
      ? `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${key.slice(1)}"`
      : JSON.stringify(key);
    const text = JSON.stringify(m);
    const at = inData ? text.indexOf('"data":{') + '"data":{'.length : 1;
    return invalid(
      'duplicate key',
      `${text.slice(0, at)}${spelled}:${JSON.stringify(value)},${text.slice(at)}`,
      exactly(`duplicate key "${key}" in one object of the body`),
    );
  });

const anyCase: fc.Arbitrary<Case> = fc.oneof(
  { arbitrary: envelope.map((m) => valid('valid', m)), weight: 30 },
  {
    arbitrary: fc
      .tuple(envelope, fc.jsonValue({ maxDepth: 3 }))
      .map(([m, extra]) =>
        valid('valid with extra field', m, JSON.stringify({ meta: extra, ...m })),
      ),
    weight: 5,
  },
  { arbitrary: brokenField, weight: 25 },
  { arbitrary: unicodeIds, weight: 8 },
  { arbitrary: randomJson, weight: 15 },
  { arbitrary: huge, weight: 2 },
  { arbitrary: deep, weight: 3 },
  { arbitrary: duplicateKeys, weight: 8 },
);

const sqs = mockClient(SQSClient);
const seen: Array<{ messageId: string; message: WorkspaceMessage }> = [];
let handler: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;
const context = {
  functionName: 'workspace-lifecycle',
  awsRequestId: 'fuzz',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

function record(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 's',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {
      [CASE_ATTRIBUTE]: {
        dataType: 'String',
        stringValue: messageId,
        stringListValues: [],
        binaryListValues: [],
      },
    },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:workspace-lifecycle',
    awsRegion: 'us-east-1',
  };
}

beforeAll(async () => {
  Object.assign(process.env, consumerTestEnv('workspace-lifecycle'), {
    // A thousand invocations would each print their metrics.
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const { createSqsConsumer } = await import('../../../shared/lambda/sqs-consumer.ts');
  handler = createSqsConsumer<WorkspaceMessage>({
    accept: [...WORKSPACE_TYPES],
    keyOf: (m) => m.data.workspaceId,
    process: async (message, r) => {
      seen.push({ messageId: r.messageId, message });
    },
    sqs: new SQSClient({ region: 'us-east-1' }),
  }) as unknown as typeof handler;
});

describe('the SQS consumer at the message boundary (10,000 fuzzed bodies)', () => {
  it('parks every invalid body in the DLQ once with its reason and processes every valid one', async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(anyCase, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }),
        async (cases) => {
          sqs.reset();
          seen.length = 0;
          const records = cases.map((c, i) => record(`m${i}`, c.body));
          // No exception may escape the consumer, whatever the batch holds.
          const response = await handler({ Records: records }, context);
          expect(response.batchItemFailures).toEqual([]);

          const dlq = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
          for (const [i, c] of cases.entries()) {
            kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
            const id = `m${i}`;
            const parked = dlq.filter(
              (s) => s.MessageAttributes?.[CASE_ATTRIBUTE]?.StringValue === id,
            );
            const processed = seen.filter((s) => s.messageId === id);
            if (c.valid) {
              expect(parked, `${c.kind} body parked`).toHaveLength(0);
              expect(processed, `${c.kind} body processed`).toHaveLength(1);
              expect(processed[0]!.message).toEqual(c.message);
            } else {
              expect(processed, `${c.kind} body processed`).toHaveLength(0);
              expect(parked, `${c.kind} body parked`).toHaveLength(1);
              const sent = parked[0]!;
              expect(sent.MessageBody === c.body, `${c.kind} body parked unchanged`).toBe(true);
              expect(sent.MessageAttributes?.failureReason?.StringValue).toMatch(c.reason);
              expect(Date.parse(sent.MessageAttributes?.failedAt?.StringValue ?? '')).not.toBeNaN();
            }
          }
        },
      ),
      { seed: SEED, numRuns: BATCHES, endOnFailure: false },
    );
    // The generators must really produce every kind, in useful numbers.
    const total = [...kinds.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(BATCHES * BATCH_SIZE);
    for (const kind of [
      'valid',
      'type',
      'other queue',
      'version',
      'id',
      'occurredAt',
      'data',
      'data.workspaceId',
      'data unknown key',
      'unicode id',
      'random json',
      'random text',
      'truncated',
      'huge valid',
      'deep array',
      'deep extra field',
      'duplicate key',
    ]) {
      expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(5);
    }
  }, 60_000);
});
