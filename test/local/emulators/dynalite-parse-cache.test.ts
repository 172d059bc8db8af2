import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  installDynaliteParseCache,
  memoize,
} from '../../../local/emulators/dynalite-parse-cache.ts';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('dynalite/package.json'));
const validations = require(join(root, 'validations', 'index.js')) as {
  validateExpressions(data: Record<string, unknown>): string | undefined;
};
const conditionParser = require(join(root, 'db', 'conditionParser.js')) as {
  parse(input: string, options: { context: Record<string, unknown> }): unknown;
};

type Request = Record<string, unknown>;
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

/** Requests like the control plane's, plus error and value-dependent cases; `i` varies values. */
const requests = (i: number): Request[] => [
  {
    UpdateExpression:
      'SET #s = :s, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one',
    ConditionExpression: 'attribute_not_exists(pk) OR #s <> :s',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: {
      ':s': S(`active-${i}`),
      ':now': N(i),
      ':zero': N(0),
      ':one': N(1),
    },
  },
  {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    FilterExpression: 'size(nodes) > :n AND contains(tags, :t)',
    ProjectionExpression: 'pk, sk, #n[0].id',
    ExpressionAttributeNames: { '#n': 'nodes' },
    ExpressionAttributeValues: {
      ':pk': S(`loc#${i}`),
      ':prefix': S('node#'),
      ':n': N(i),
      ':t': S('x'),
    },
  },
  {
    UpdateExpression:
      'SET items = list_append(items, :l) REMOVE stale ADD counter :one DELETE tags :ss',
    ExpressionAttributeValues: {
      ':l': { L: [S(`v${i}`)] },
      ':one': N(1),
      ':ss': { SS: [`t${i}`] },
    },
  },
  // Same expression, another value type: a different entry.
  {
    ConditionExpression: '#s = :s',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':s': i % 2 ? N(i) : S(`x${i}`) },
  },
  // Values decide these checks: never cached.
  {
    ConditionExpression: 'n BETWEEN :lo AND :hi',
    ExpressionAttributeValues: { ':lo': N(i), ':hi': N(i % 2 ? i - 1 : i + 1) },
  },
  {
    ConditionExpression: 'attribute_type(a, :t)',
    ExpressionAttributeValues: { ':t': S(i % 2 ? 'S' : 'Q') },
  },
  // Errors: a reserved word, an unused value, an undefined name, a syntax error.
  { ConditionExpression: 'status = :s', ExpressionAttributeValues: { ':s': S('a') } },
  { ConditionExpression: 'a = :a', ExpressionAttributeValues: { ':a': S('a'), ':b': S(`${i}`) } },
  { ConditionExpression: '#x = :a', ExpressionAttributeValues: { ':a': S('a') } },
  { UpdateExpression: 'SET a = ', ExpressionAttributeValues: { ':a': S('a') } },
];

/** What validateExpressions returns and leaves on the request. */
const outcome = (req: Request) => {
  const data = structuredClone(req);
  const error = validations.validateExpressions(data);
  const { _updates, _condition, _keyCondition, _filter, _projection } = data;
  return { error, _updates, _condition, _keyCondition, _filter, _projection };
};

describe('dynalite expression parse cache', () => {
  it('gives exactly what dynalite parses, for repeated expressions with new values', () => {
    const expected = [0, 1, 2, 3].map((i) => requests(i).map(outcome));
    installDynaliteParseCache();
    for (const i of [0, 1, 2, 3]) {
      expect(requests(i).map(outcome)).toEqual(expected[i]);
    }
    // The errors really are errors (the cases are meaningful).
    expect(expected[0]!.filter((o) => o.error).length).toBeGreaterThanOrEqual(4);
  });

  it('parses a repeated expression once more to make its template, then not at all', () => {
    let parses = 0;
    const parse = memoize('conditionParser', (input, options) => {
      parses++;
      return conditionParser.parse(input, options);
    });
    const context = (v: string) => ({
      attrNames: { '#s': 'status' },
      attrVals: { ':s': S(v) },
      unusedAttrNames: { '#s': true },
      unusedAttrVals: { ':s': true },
      isReserved: () => false,
    });
    const first = context('a');
    expect(parse('#s = :s', { context: first })).toBeTruthy();
    expect(parses).toBe(2);
    const second = context('b');
    const tree = parse('#s = :s', { context: second });
    expect(parses).toBe(2);
    expect(JSON.stringify(tree)).toContain('"b"');
    expect(JSON.stringify(tree)).not.toContain('"a"');
    // The used names and values are marked as used, as dynalite's parse does.
    expect(second.unusedAttrNames).toEqual({});
    expect(second.unusedAttrVals).toEqual({});
  });
});
