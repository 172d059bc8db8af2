/** One benchmark module under `bench/`: `bench/run.ts` runs them in sequence. */
export interface Benchmark<R extends object = object> {
  /** Short name: `npm run bench -- <name>`; results go to `bench/results/<name>.json`. */
  readonly name: string;
  readonly description: string;
  run(): Promise<R>;
  /** A short human-readable table of the result. @default JSON */
  format?(result: R): string;
  /** Whether the result meets its targets (reported, never asserted in tests). */
  passed?(result: R): boolean;
}

/** Renders rows as a fixed-width text table; numbers are right-aligned. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = [
    headers.map(String),
    ...rows.map((row) => row.map((c) => (c === undefined ? '' : String(c)))),
  ];
  const numeric = headers.map((_, i) =>
    rows.every((row) => typeof row[i] === 'number' || row[i] === undefined),
  );
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    line(cells[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The middle item by `value` (the upper one of the two middle items for an even count). */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  if (items.length === 0) throw new Error('medianBy of no items');
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor(sorted.length / 2)] as T;
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** A comma-separated list of numbers from the environment (e.g. `BENCH_LATENCIES=0,20,50`). */
export function numbersFromEnv(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (!raw?.trim()) return [...fallback];
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new Error(`${name} must be comma-separated non-negative numbers, got "${raw}"`);
  }
  return values;
}
