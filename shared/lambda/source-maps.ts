// Maps stack frames of the bundled function back to its TypeScript sources, lazily: the source
// map is read and parsed on the first error that is logged, not at import. The functions run
// without `--enable-source-maps`, which parses the whole map (MBs) at every cold start.
// Outside a bundle (tsx, vitest) there is no source map next to this module and stacks already
// name the .ts files: mapping is then a no-op.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

type FrameMapper = (stack: string) => string;

/** Once bundled, this module's URL is the bundle's (e.g. `file:///var/task/index.mjs`). */
const BUNDLE_URL = import.meta.url;
const MARKER = '//# sourceMappingURL=';

let mapper: FrameMapper | null | undefined;

/** esbuild links the map from the bundle's last line; no such line means no map (not bundled). */
function loadMapper(bundleUrl: string): FrameMapper | null {
  const code = readFileSync(new URL(bundleUrl), 'utf8').trimEnd();
  const lastLine = code.slice(code.lastIndexOf('\n') + 1);
  if (!lastLine.startsWith(MARKER)) return null;
  const mapUrl = new URL(lastLine.slice(MARKER.length), bundleUrl);
  if (mapUrl.protocol !== 'file:') return null;
  const map = new SourceMap(JSON.parse(readFileSync(mapUrl, 'utf8')));
  // ESM frames name the module by URL: `at fn (file:///var/task/index.mjs:1:2345)`.
  const frame = new RegExp(
    `${bundleUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`,
    'g',
  );
  return (stack) =>
    stack.replace(frame, (found, line: string, column: string) => {
      const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
      if (!('originalSource' in entry)) return found;
      // Sources are relative to the map, as `--enable-source-maps` resolves them.
      const source = new URL(entry.originalSource, mapUrl);
      const file = source.protocol === 'file:' ? fileURLToPath(source) : source.href;
      return `${file}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });
}

/** The stack with the bundle's frames pointing at the TypeScript sources (line:column). */
export function mapStackTrace(stack: string): string {
  if (mapper === undefined) {
    try {
      mapper = loadMapper(BUNDLE_URL);
    } catch {
      // A missing or unreadable map must never break logging: stacks stay as they are.
      mapper = null;
    }
  }
  return mapper ? mapper(stack) : stack;
}

/**
 * Rewrites `error.stack` (and its causes') in place, so whoever writes it next (the logger,
 * the Lambda runtime reporting a failed invocation) writes the mapped frames. Idempotent:
 * mapped frames no longer name the bundle.
 */
export function mapErrorStack(error: unknown): void {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    if (typeof current.stack === 'string') {
      try {
        current.stack = mapStackTrace(current.stack);
      } catch {
        // A frozen error keeps its stack.
      }
    }
    current = current.cause;
  }
}
