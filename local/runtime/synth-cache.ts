// Reuse of the synthesized template and function bundles between starts: `cdk synth` with
// esbuild bundling costs seconds, and its output only depends on the sources it reads. Each
// result lives in `.local/synth/<key>/`, the key being a hash of every input.
import { createHash, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';

/** Bump when what a cache entry holds changes shape. */
const FORMAT = 1;
const MARKER = 'local-synth.json';
/** Entries kept besides the one in use: another checkout state may still be running. */
const KEEP = 3;
/** A half-written entry of another process is left alone for this long. */
const STALE_TMP_MS = 10 * 60_000;

export interface SynthInputs {
  root: string;
  /** Directories (relative to root) whose every file is an input. */
  dirs: readonly string[];
  /** Single files (relative to root); a missing one counts as empty. */
  files: readonly string[];
  /** Anything else the output depends on (bundler options, stage), JSON-serializable. */
  extra: unknown;
}

function listFiles(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** Hash of the inputs: file paths and contents (sorted, so listing order does not matter). */
export function synthCacheKey(inputs: SynthInputs): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ format: FORMAT, extra: inputs.extra }));
  const files = [...new Set([...inputs.dirs.flatMap((d) => listFiles(inputs.root, d))])].sort();
  for (const rel of [...files, ...inputs.files]) {
    const abs = join(inputs.root, rel);
    const content = existsSync(abs) ? readFileSync(abs) : Buffer.alloc(0);
    hash.update(`\0${relative(inputs.root, abs)}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest('hex').slice(0, 32);
}

export interface CachedAssembly<T> {
  /** Directory of the cloud assembly (asset paths in the template are relative to it). */
  dir: string;
  /** What `synth` returned when the entry was made (JSON round-tripped). */
  meta: T;
  hit: boolean;
}

/**
 * The entry for `key` under `cacheRoot`, made by `synth(outdir)` when missing. `synth` writes
 * into a private directory that is renamed into place only when complete, so a crashed or
 * concurrent synthesis never leaves a half-written entry behind a valid key.
 */
export async function cachedSynth<T>(
  cacheRoot: string,
  key: string,
  synth: (outdir: string) => Promise<T> | T,
): Promise<CachedAssembly<T>> {
  const dir = join(cacheRoot, key);
  const marker = join(dir, MARKER);
  if (existsSync(marker)) {
    // Recently used entries survive pruning.
    const now = new Date();
    utimesSync(dir, now, now);
    return { dir, meta: JSON.parse(readFileSync(marker, 'utf8')) as T, hit: true };
  }
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = join(cacheRoot, `${key}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    const meta = await synth(tmp);
    writeFileSync(join(tmp, MARKER), JSON.stringify(meta));
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process finished the same key first: its entry is as good as ours.
      if (!existsSync(marker)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(cacheRoot, key);
  return { dir, meta: JSON.parse(readFileSync(marker, 'utf8')) as T, hit: false };
}

/** Drops all but the newest KEEP entries (and abandoned temporary directories). */
function prune(cacheRoot: string, keep: string): void {
  const now = Date.now();
  const entries = readdirSync(cacheRoot)
    .filter((name) => name !== keep)
    .map((name) => ({ name, mtime: statSync(join(cacheRoot, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  let kept = 0;
  for (const e of entries) {
    const isTmp = e.name.includes('.tmp-');
    if (isTmp ? now - e.mtime < STALE_TMP_MS : kept++ < KEEP) continue;
    rmSync(join(cacheRoot, e.name), { recursive: true, force: true });
  }
}
