import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cachedSynth,
  type SynthInputs,
  synthCacheKey,
} from '../../../local/runtime/synth-cache.ts';
import { synthInputs } from '../../../local/runtime/template.ts';

let root: string;
const write = (rel: string, content: string) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), content);
};
const inputs = (extra: unknown = { minify: true }): SynthInputs => ({
  root,
  dirs: ['infra', 'functions'],
  files: ['package-lock.json'],
  extra,
});

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'synth-cache-'));
  write('infra/app.ts', 'app');
  write('functions/a/handler.ts', 'a');
  write('package-lock.json', '{}');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('synth cache key', () => {
  it('is stable while nothing changes', () => {
    expect(synthCacheKey(inputs())).toBe(synthCacheKey(inputs()));
  });

  it('changes with a source file, a new or renamed file, the lockfile or the options', () => {
    const seen = new Set([synthCacheKey(inputs())]);
    const changed = (what: string) => {
      const key = synthCacheKey(inputs());
      expect(seen.has(key), what).toBe(false);
      seen.add(key);
    };
    write('functions/a/handler.ts', 'a2');
    changed('edited source');
    write('functions/b/handler.ts', 'b');
    changed('added source');
    rmSync(join(root, 'functions/b'), { recursive: true });
    write('functions/c/handler.ts', 'b');
    changed('renamed source');
    write('package-lock.json', '{"v":2}');
    changed('lockfile');
    expect(seen.has(synthCacheKey(inputs({ minify: false })))).toBe(false);
  });

  it('ignores files outside the inputs', () => {
    const before = synthCacheKey(inputs());
    write('test/x.test.ts', 'x');
    write('README.md', 'readme');
    expect(synthCacheKey(inputs())).toBe(before);
  });

  it('covers the sources, lockfile and bundler options of the real stack', () => {
    const real = synthInputs();
    expect(real.dirs).toEqual(expect.arrayContaining(['infra', 'functions', 'shared']));
    expect(real.files).toEqual(expect.arrayContaining(['package-lock.json', 'cdk.json']));
    expect(JSON.stringify(real.extra)).toContain('"minify"');
  });
});

describe('cached synthesis', () => {
  const fakeSynth = () => {
    const calls: string[] = [];
    const synth = (outdir: string) => {
      calls.push(outdir);
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, 'template.json'), `{"n":${calls.length}}`);
      return { templateFile: 'template.json' };
    };
    return { calls, synth };
  };

  it('synthesizes on a miss and reuses the entry on the next start', async () => {
    const cache = join(root, '.local', 'synth');
    const { calls, synth } = fakeSynth();
    const first = await cachedSynth(cache, 'k1', synth);
    expect(first.hit).toBe(false);
    expect(calls).toHaveLength(1);
    const again = await cachedSynth(cache, 'k1', synth);
    expect(again).toMatchObject({
      hit: true,
      dir: first.dir,
      meta: { templateFile: 'template.json' },
    });
    expect(calls).toHaveLength(1);
    expect(readFileSync(join(again.dir, 'template.json'), 'utf8')).toBe('{"n":1}');
  });

  it('re-synthesizes for a new key and leaves no temporary directories', async () => {
    const cache = join(root, '.local', 'synth');
    const { calls, synth } = fakeSynth();
    await cachedSynth(cache, 'k1', synth);
    const other = await cachedSynth(cache, 'k2', synth);
    expect(other.hit).toBe(false);
    expect(calls).toHaveLength(2);
    expect(readdirSync(cache).sort()).toEqual(['k1', 'k2']);
  });

  it('keeps no entry when the synthesis fails', async () => {
    const cache = join(root, '.local', 'synth');
    await expect(
      cachedSynth(cache, 'bad', (outdir) => {
        mkdirSync(outdir, { recursive: true });
        throw new Error('synth failed');
      }),
    ).rejects.toThrow('synth failed');
    expect(readdirSync(cache)).toEqual([]);
    const { calls, synth } = fakeSynth();
    expect((await cachedSynth(cache, 'bad', synth)).hit).toBe(false);
    expect(calls).toHaveLength(1);
  });
});
