// docs/architecture.svg is rendered from docs/architecture.dot by `npm run docs:diagram`, which
// writes the source's SHA-256 into the SVG. This test recomputes it, so an edited .dot without
// a re-rendered SVG fails here; it does not need Graphviz.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('docs/architecture.svg', () => {
  it('is rendered from the current docs/architecture.dot (npm run docs:diagram)', () => {
    const source = read('architecture.dot').replace(/\r\n/g, '\n');
    const hash = createHash('sha256').update(source).digest('hex');
    const embedded = /<!-- sourceSha256=([0-9a-f]{64}) -->/.exec(read('architecture.svg'))?.[1];
    expect(embedded, 'the SVG is stale: run `npm run docs:diagram` and commit both files').toBe(
      hash,
    );
  });

  it('is shown in the README', () => {
    expect(read('../README.md')).toContain('docs/architecture.svg');
  });
});
