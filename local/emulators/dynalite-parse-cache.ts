// dynalite parses every condition/update/projection expression with PEG parsers on every
// request: most of its CPU time under load, although a control plane sends the same few
// expressions over and over with different values. This memoizes the parse per expression,
// attribute names and the *types* of the attribute values, then puts the request's own values
// into a copy of the cached tree. It is exact by construction, and checked: an expression is
// cached only if substituting the values into its template gives exactly what dynalite's own
// parse gave for the request that filled the entry. Expressions whose checks depend on values,
// not only types (BETWEEN bounds, attribute_type names), and failed parses are never cached.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

type AttrValue = Record<string, unknown>;
interface ParseContext {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, AttrValue>;
  unusedAttrNames?: Record<string, boolean>;
  unusedAttrVals?: Record<string, boolean>;
  isKeyCondition?: boolean;
  [other: string]: unknown;
}
interface Parser {
  parse(input: string, options: { context: ParseContext }): unknown;
}

interface Template {
  tree: unknown;
  /** Sentinel value object -> attribute value name it stands for. */
  sentinels: Map<object, string>;
  usedNames: string[];
  usedVals: string[];
}

const MAX_ENTRIES = 5_000;
const VALUE_DEPENDENT = /\bbetween\b|attribute_type/i;
const PARSERS = ['conditionParser', 'updateParser', 'projectionParser'] as const;

let installed = false;

/** Patches dynalite's expression parsers (shared by every dynalite in this thread), once. */
export function installDynaliteParseCache(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('dynalite/package.json'));
  for (const name of PARSERS) {
    const parser = require(join(root, 'db', `${name}.js`)) as Parser;
    const parse = parser.parse.bind(parser);
    parser.parse = memoize(name, parse);
  }
}

export function memoize(
  name: string,
  parse: Parser['parse'],
): (input: string, options: { context: ParseContext }) => unknown {
  const cache = new Map<string, Template | 'uncacheable'>();
  return (input, options) => {
    const context = options.context;
    if (VALUE_DEPENDENT.test(input)) return parse(input, options);
    const vals = context.attrVals ?? {};
    const key = [
      name,
      input,
      JSON.stringify(context.attrNames ?? null),
      Object.entries(vals)
        .map(([k, v]) => `${k}=${Object.keys(v ?? {}).join(',')}`)
        .join(';'),
      context.isKeyCondition ? 'key' : '',
    ].join('\u0001');
    const hit = cache.get(key);
    if (hit === 'uncacheable') return parse(input, options);
    if (hit) {
      for (const n of hit.usedNames) delete context.unusedAttrNames?.[n];
      for (const v of hit.usedVals) delete context.unusedAttrVals?.[v];
      return substitute(hit.tree, hit.sentinels, vals);
    }
    const unusedNames = { ...context.unusedAttrNames };
    const unusedVals = { ...context.unusedAttrVals };
    const result = parse(input, options);
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(key, templateOf(parse, input, context, result, unusedNames, unusedVals));
    return result;
  };
}

/** Parses again with stand-in values and keeps the tree if it reproduces `result` exactly. */
function templateOf(
  parse: Parser['parse'],
  input: string,
  context: ParseContext,
  result: unknown,
  unusedNames: Record<string, boolean>,
  unusedVals: Record<string, boolean>,
): Template | 'uncacheable' {
  // A string is an error message; an error is rare and may name values.
  if (typeof result === 'string') return 'uncacheable';
  const sentinels = new Map<object, string>();
  const attrVals: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(context.attrVals ?? {})) {
    const sentinel = Object.fromEntries(Object.keys(v ?? {}).map((t) => [t, `\u0000${k}`]));
    sentinels.set(sentinel, k);
    attrVals[k] = sentinel;
  }
  const probe: ParseContext = {
    ...context,
    attrVals,
    unusedAttrNames: { ...unusedNames },
    unusedAttrVals: { ...unusedVals },
  };
  let tree: unknown;
  try {
    tree = parse(input, { context: probe });
  } catch {
    return 'uncacheable';
  }
  const template: Template = {
    tree,
    sentinels,
    usedNames: Object.keys(unusedNames).filter((n) => !(n in (probe.unusedAttrNames ?? {}))),
    usedVals: Object.keys(unusedVals).filter((v) => !(v in (probe.unusedAttrVals ?? {}))),
  };
  const same =
    isDeepStrictEqual(substitute(tree, sentinels, context.attrVals ?? {}), result) &&
    isDeepStrictEqual(
      template.usedNames,
      Object.keys(unusedNames).filter((n) => !(n in (context.unusedAttrNames ?? {}))),
    ) &&
    isDeepStrictEqual(
      template.usedVals,
      Object.keys(unusedVals).filter((v) => !(v in (context.unusedAttrVals ?? {}))),
    );
  return same ? template : 'uncacheable';
}

/** A copy of the tree with each stand-in replaced by the request's value object. */
function substitute(
  node: unknown,
  sentinels: Map<object, string>,
  vals: Record<string, AttrValue>,
): unknown {
  if (node === null || typeof node !== 'object') return node;
  const name = sentinels.get(node);
  if (name !== undefined) return vals[name];
  if (Array.isArray(node)) return node.map((n) => substitute(n, sentinels, vals));
  // Same prototype: dynalite builds some nodes with Object.create(null).
  const out = Object.create(Object.getPrototypeOf(node)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(node)) out[k] = substitute(v, sentinels, vals);
  return out;
}
