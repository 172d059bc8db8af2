// The charts under docs/bench/ are drawn by `npm run bench` (bench/figures.ts) and committed so
// the README can show them: each one is shown there, and each one the README shows exists.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DIR = new URL('../../docs/bench/', import.meta.url);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const charts = readdirSync(DIR).filter((f) => f.endsWith('.svg'));

describe('docs/bench charts', () => {
  it('are all shown in the README, which shows no other', () => {
    const shown = [...readme.matchAll(/\]\(docs\/bench\/([^)]+\.svg)\)/g)].map((m) => m[1]);
    expect(shown.sort()).toEqual([...charts].sort());
    expect(charts).toHaveLength(4);
  });

  it('each have an accessible title', () => {
    for (const file of charts) {
      expect(readFileSync(new URL(file, DIR), 'utf8'), file).toMatch(/^<svg[^>]*>\n<title>[^<]+/);
    }
  });
});
