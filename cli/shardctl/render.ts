// Table output for people at a terminal; scripts get JSON (one document on stdout).
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Longer cells are cut in tables (JSON output keeps everything). */
const MAX_CELL = 80;

function cell(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) text = '';
  else if (Array.isArray(value) && value.every((v) => !isRecord(v) && !Array.isArray(v)))
    text = value.join(', ');
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  text = text.replace(/\s+/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

function grid(rows: Record<string, unknown>[], indent: string): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    `${indent}${values.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/** Renders any JSON value as readable text: lists of records as aligned columns. */
export function renderTable(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}(none)`;
    if (value.every(isRecord)) return grid(value, indent);
    return value.map((v) => `${indent}${cell(v)}`).join('\n');
  }
  if (!isRecord(value)) return `${indent}${cell(value)}`;
  const lines: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (isRecord(v) || (Array.isArray(v) && v.some((x) => isRecord(x)))) {
      lines.push(`${indent}${key}:`, renderTable(v, `${indent}  `));
    } else {
      const empty = v === null || (Array.isArray(v) && v.length === 0);
      lines.push(`${indent}${key}: ${empty ? '(none)' : cell(v)}`);
    }
  }
  return lines.join('\n');
}
