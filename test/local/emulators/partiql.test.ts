import { describe, expect, it } from 'vitest';
import {
  parseUpdate,
  toUpdateItem,
  UnsupportedStatementError,
} from '../../../local/emulators/partiql.ts';

const S = (value: string) => ({ S: value });
const N = (value: number) => ({ N: String(value) });

describe('parseUpdate', () => {
  it('reads the statements the table store writes', () => {
    const statement =
      'UPDATE "shard-control-local" SET "version"=?, "updatedAt"=?, "status"=? REMOVE "lastError" REMOVE "workPk" WHERE "pk"=? AND "sk"=? AND "version"=?';
    expect(parseUpdate(statement)).toEqual({
      table: 'shard-control-local',
      set: [
        { attribute: 'version', parameter: 0 },
        { attribute: 'updatedAt', parameter: 1 },
        { attribute: 'status', parameter: 2 },
      ],
      remove: ['lastError', 'workPk'],
      where: [
        { attribute: 'pk', parameter: 3 },
        { attribute: 'sk', parameter: 4 },
        { attribute: 'version', parameter: 5 },
      ],
      parameters: 6,
    });
  });

  it('takes repeated clauses, REMOVE first, any keyword case, bare and escaped names', () => {
    expect(parseUpdate('update t remove "a""b" set c = ? SET "d"=? where pk=? and "sk"=?')).toEqual(
      {
        table: 't',
        set: [
          { attribute: 'c', parameter: 0 },
          { attribute: 'd', parameter: 1 },
        ],
        remove: ['a"b'],
        where: [
          { attribute: 'pk', parameter: 2 },
          { attribute: 'sk', parameter: 3 },
        ],
        parameters: 4,
      },
    );
  });

  it.each([
    ['a literal', `UPDATE "t" SET "a"='x' WHERE "pk"=?`],
    ['a number', 'UPDATE "t" SET "a"=1 WHERE "pk"=?'],
    ['a document path', 'UPDATE "t" SET "a"."b"=? WHERE "pk"=?'],
    ['arithmetic', 'UPDATE "t" SET "a"="a"+? WHERE "pk"=?'],
    ['another comparison', 'UPDATE "t" SET "a"=? WHERE "pk"=? AND "v">?'],
    ['OR', 'UPDATE "t" SET "a"=? WHERE "pk"=? OR "sk"=?'],
    ['RETURNING', 'UPDATE "t" SET "a"=? WHERE "pk"=? RETURNING ALL NEW *'],
    ['no clause', 'UPDATE "t" WHERE "pk"=?'],
    ['a REMOVE list (AWS: not well formed)', 'UPDATE "t" REMOVE "a", "b" WHERE "pk"=?'],
    ['no WHERE', 'UPDATE "t" SET "a"=?'],
    ['another statement', 'SELECT * FROM "t" WHERE "pk"=?'],
    ['an unterminated name', 'UPDATE "t SET "a"=?'],
    ['a keyword as a bare name', 'UPDATE "t" SET where=? WHERE "pk"=?'],
  ])('refuses %s', (_, statement) => {
    expect(() => parseUpdate(statement)).toThrow(UnsupportedStatementError);
  });
});

describe('toUpdateItem', () => {
  const keys = ['pk', 'sk'];
  const parsed = parseUpdate(
    'UPDATE "t" SET "version"=?, "a"=? REMOVE "b" WHERE "pk"=? AND "sk"=? AND "version"=?',
  );

  it('is the UpdateItem the statement means: key from WHERE, the rest a condition on an existing item', () => {
    expect(toUpdateItem(parsed, [N(4), S('x'), S('p'), S('META'), N(3)], keys)).toEqual({
      key: { pk: S('p'), sk: S('META') },
      request: {
        TableName: 't',
        Key: { pk: S('p'), sk: S('META') },
        UpdateExpression: 'SET #n0 = :p0, #n1 = :p1 REMOVE #n2',
        ConditionExpression: 'attribute_exists(#n3) AND #n0 = :p4',
        ExpressionAttributeNames: { '#n0': 'version', '#n1': 'a', '#n2': 'b', '#n3': 'pk' },
        ExpressionAttributeValues: { ':p0': N(4), ':p1': S('x'), ':p4': N(3) },
      },
    });
  });

  it("answers AWS's per-statement errors: parameter count, key equality, overlapping paths", () => {
    expect(toUpdateItem(parsed, [N(4)], keys)).toEqual({
      error: {
        Code: 'ValidationError',
        Message: "Number of parameters in request and statement don't match.",
      },
    });
    expect(
      toUpdateItem(parseUpdate('UPDATE t SET a=? WHERE pk=?'), [S('x'), S('p')], keys),
    ).toEqual({
      error: {
        Code: 'ValidationError',
        Message: 'Where clause does not contain a mandatory equality on all key attributes',
      },
    });
    const overlap = parseUpdate('UPDATE t SET a=? REMOVE a WHERE pk=? AND sk=?');
    expect(toUpdateItem(overlap, [S('x'), S('p'), S('s')], keys)).toMatchObject({
      error: { Code: 'ValidationError', Message: expect.stringContaining('paths overlap') },
    });
  });

  it('refuses a key attribute compared twice', () => {
    const twice = parseUpdate('UPDATE t SET a=? WHERE pk=? AND sk=? AND pk=?');
    expect(() => toUpdateItem(twice, [S('x'), S('p'), S('s'), S('p')], keys)).toThrow(
      UnsupportedStatementError,
    );
  });
});
