// The PartiQL the DynamoDB emulator understands: single-item UPDATEs whose values are all `?`
// parameters, as the stores send them (Table.batchUpdate):
//
//   UPDATE "table" SET "a"=?, "b"=? [SET ...] [REMOVE "c" REMOVE "d"] WHERE "pk"=? AND "sk"=? [AND "x"=?]
//
// Keywords in any case, names double-quoted (or bare). Each such statement is the UpdateItem
// it means: the key from the WHERE equalities on the table's key attributes, the other
// equalities plus attribute_exists of the key as its condition (PartiQL UPDATE fails with
// ConditionalCheckFailed when no item matches). Anything else is refused as unsupported,
// never answered approximately.

export type AttributeValue = Record<string, unknown>;

export interface ParsedUpdate {
  table: string;
  /** Attributes set, each to the parameter at that position. */
  set: Array<{ attribute: string; parameter: number }>;
  remove: string[];
  /** Equalities of the WHERE clause, each against the parameter at that position. */
  where: Array<{ attribute: string; parameter: number }>;
  parameters: number;
}

/** A statement outside the supported subset (AWS may accept it; the emulator does not). */
export class UnsupportedStatementError extends Error {
  override readonly name = 'UnsupportedStatementError';
}

/** A statement AWS itself rejects on its own: reported per statement, as AWS does. */
export interface StatementError {
  Code: 'ValidationError';
  Message: string;
}

type Token =
  | { kind: 'name'; text: string; quoted: boolean }
  | { kind: 'parameter' | 'equals' | 'comma' };

const KEYWORDS = new Set(['UPDATE', 'SET', 'REMOVE', 'WHERE', 'AND']);

function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < statement.length) {
    const char = statement[at] as string;
    if (/\s/.test(char)) {
      at++;
    } else if (char === '?' || char === '=' || char === ',') {
      tokens.push({ kind: char === '?' ? 'parameter' : char === '=' ? 'equals' : 'comma' });
      at++;
    } else if (char === '"') {
      // A doubled quote inside a quoted name stands for one quote.
      let text = '';
      for (at++; ; at++) {
        if (at >= statement.length) throw new UnsupportedStatementError('unterminated quoted name');
        if (statement[at] === '"' && statement[at + 1] === '"') {
          text += '"';
          at++;
        } else if (statement[at] === '"') break;
        else text += statement[at];
      }
      at++;
      tokens.push({ kind: 'name', text, quoted: true });
    } else {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(statement.slice(at))?.[0];
      if (!word) {
        throw new UnsupportedStatementError(
          `unexpected '${char}' (only ? parameters, no literals, paths or other operators)`,
        );
      }
      tokens.push({ kind: 'name', text: word, quoted: false });
      at += word.length;
    }
  }
  return tokens;
}

export function parseUpdate(statement: string): ParsedUpdate {
  const tokens = tokenize(statement);
  let at = 0;
  let parameters = 0;
  const peekKeyword = () => {
    const token = tokens[at];
    return token?.kind === 'name' && !token.quoted ? token.text.toUpperCase() : undefined;
  };
  const keyword = (expected: string) => {
    if (peekKeyword() !== expected) throw new UnsupportedStatementError(`expected ${expected}`);
    at++;
  };
  const name = () => {
    const token = tokens[at];
    if (token?.kind !== 'name' || (!token.quoted && KEYWORDS.has(token.text.toUpperCase())))
      throw new UnsupportedStatementError('expected a name');
    at++;
    return token.text;
  };
  const punctuation = (kind: 'parameter' | 'equals' | 'comma') => {
    if (tokens[at]?.kind !== kind) return false;
    at++;
    return true;
  };
  const equality = () => {
    const attribute = name();
    if (!punctuation('equals') || !punctuation('parameter'))
      throw new UnsupportedStatementError(`expected ${attribute} = ?`);
    return { attribute, parameter: parameters++ };
  };

  keyword('UPDATE');
  const table = name();
  const set: ParsedUpdate['set'] = [];
  const remove: string[] = [];
  for (
    let clause = peekKeyword();
    clause === 'SET' || clause === 'REMOVE';
    clause = peekKeyword()
  ) {
    at++;
    if (clause === 'REMOVE') {
      remove.push(name());
      // AWS answers `REMOVE "a", "b"` with "Statement wasn't well formed": one path each.
      if (tokens[at]?.kind === 'comma')
        throw new UnsupportedStatementError('REMOVE takes one path (repeat REMOVE for more)');
      continue;
    }
    do set.push(equality());
    while (punctuation('comma'));
  }
  if (set.length + remove.length === 0)
    throw new UnsupportedStatementError('expected SET or REMOVE');
  keyword('WHERE');
  const where = [equality()];
  while (peekKeyword() === 'AND') {
    at++;
    where.push(equality());
  }
  if (at < tokens.length)
    throw new UnsupportedStatementError('unexpected text after the WHERE clause');
  return { table, set, remove, where, parameters };
}

/** The UpdateItem request a parsed UPDATE stands for, or the error AWS reports for it. */
export function toUpdateItem(
  update: ParsedUpdate,
  parameters: readonly AttributeValue[],
  keyAttributes: readonly string[],
):
  | { error: StatementError }
  | { key: Record<string, AttributeValue>; request: Record<string, unknown> } {
  if (parameters.length !== update.parameters) {
    return { error: validationError("Number of parameters in request and statement don't match.") };
  }
  const paths = [...update.set.map((s) => s.attribute), ...update.remove];
  const overlap = paths.find((path, i) => paths.indexOf(path) !== i);
  if (overlap !== undefined) {
    return {
      error: validationError(
        `Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${overlap}], path two: [${overlap}]`,
      ),
    };
  }
  const key: Record<string, AttributeValue> = {};
  const conditions: Array<{ attribute: string; parameter: number }> = [];
  for (const equality of update.where) {
    if (!keyAttributes.includes(equality.attribute)) conditions.push(equality);
    else if (equality.attribute in key) {
      throw new UnsupportedStatementError(`${equality.attribute} compared more than once`);
    } else key[equality.attribute] = parameters[equality.parameter] as AttributeValue;
  }
  if (keyAttributes.some((attribute) => !(attribute in key))) {
    return {
      error: validationError(
        'Where clause does not contain a mandatory equality on all key attributes',
      ),
    };
  }
  const names: Record<string, string> = {};
  const alias = (attribute: string) => {
    const existing = Object.entries(names).find(([, n]) => n === attribute)?.[0];
    if (existing) return existing;
    const created = `#n${Object.keys(names).length}`;
    names[created] = attribute;
    return created;
  };
  const values: Record<string, AttributeValue> = {};
  const value = (parameter: number) => {
    values[`:p${parameter}`] = parameters[parameter] as AttributeValue;
    return `:p${parameter}`;
  };
  const clauses = [];
  if (update.set.length) {
    clauses.push(
      `SET ${update.set.map((s) => `${alias(s.attribute)} = ${value(s.parameter)}`).join(', ')}`,
    );
  }
  if (update.remove.length) clauses.push(`REMOVE ${update.remove.map(alias).join(', ')}`);
  const condition = [
    `attribute_exists(${alias(keyAttributes[0] as string)})`,
    ...conditions.map((c) => `${alias(c.attribute)} = ${value(c.parameter)}`),
  ].join(' AND ');
  return {
    key,
    request: {
      TableName: update.table,
      Key: key,
      UpdateExpression: clauses.join(' '),
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    },
  };
}

const validationError = (message: string): StatementError => ({
  Code: 'ValidationError',
  Message: message,
});
