// Small SVG charts for the benchmark results, without a dependency. The output is a pure
// function of the data: fixed precision, no timestamps or random ids, so re-rendering the same
// results gives the same bytes and committed charts only change when the figures do.

export type Point = readonly [x: number, y: number];

export interface Axis {
  label: string;
  /** Base-10 logarithmic scale; values <= 0 are left out. */
  log?: boolean;
  /** Linear axes start at 0 unless a value is below it, so heights compare. */
  min?: number;
  max?: number;
}

export interface Series {
  name: string;
  points: readonly Point[];
  dashed?: boolean;
  /** A dot on every point. @default true */
  markers?: boolean;
  /** Which y axis the series is read on. @default 'left' */
  axis?: 'left' | 'right';
}

export interface LineChart {
  /** Shown on top and as the SVG's accessible `<title>`. */
  title: string;
  /** Accessible `<desc>`: what the chart shows, for screen readers. */
  description?: string;
  x: Axis;
  y: Axis;
  /** A second y axis on the right, for series with `axis: 'right'`. */
  y2?: Axis;
  series: readonly Series[];
}

export const WIDTH = 720;
export const HEIGHT = 420;
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
// Okabe-Ito: tells series apart for colour-blind readers too.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#555555'];
const TICKS = 6;

/** The plot area inside the axes, in SVG user units. */
export function plotArea(chart: Pick<LineChart, 'y2'>) {
  const left = 76;
  const right = WIDTH - (chart.y2 ? 76 : 24);
  const top = 64;
  const bottom = HEIGHT - 56;
  return { left, right, top, bottom, width: right - left, height: bottom - top };
}

/** Coordinates with one decimal: enough on a 720-unit canvas, and stable across runs. */
const fixed = (n: number) => {
  const s = n.toFixed(1);
  return s.endsWith('.0') ? s.slice(0, -2) : s === '-0' ? '0' : s;
};

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A tick label: thousands separated, at most 2 decimals, no locale (deterministic). */
export function formatTick(n: number): string {
  const rounded = Math.round(n * 100) / 100;
  const [int = '0', frac] = String(Math.abs(rounded)).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${rounded < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

interface Scale {
  domain: [number, number];
  ticks: number[];
  /** 0..1 along the axis; undefined for a value a log axis cannot show. */
  at(value: number): number | undefined;
}

/** Ticks at 1, 2 or 5 times a power of ten, about `TICKS` of them. */
function niceStep(span: number): number {
  const raw = span / TICKS;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  return step * power;
}

function scale(axis: Axis, values: readonly number[], headroom = false): Scale {
  if (axis.log) {
    const positive = values.filter((v) => v > 0);
    const lo =
      axis.min ?? 10 ** Math.floor(Math.log10(positive.length ? Math.min(...positive) : 1));
    const hi = axis.max ?? 10 ** Math.ceil(Math.log10(Math.max(...positive, lo * 10)));
    const [a, b] = [Math.log10(lo), Math.log10(hi)];
    const ticks: number[] = [];
    for (let e = Math.ceil(a); e <= Math.floor(b); e++) ticks.push(10 ** e);
    return {
      domain: [lo, hi],
      ticks,
      at: (v) => (v > 0 ? (Math.log10(v) - a) / (b - a) : undefined),
    };
  }
  const lo0 = axis.min ?? Math.min(0, ...values);
  const hi0 = axis.max ?? Math.max(...values, lo0 + 1);
  const step = niceStep(hi0 - lo0 || 1);
  const lo = axis.min ?? Math.floor(lo0 / step) * step;
  // On y, a step of headroom when the largest value is on a tick: a line on the frame is hard
  // to see. On x the last point stays at the edge.
  const hi = axis.max ?? (headroom ? Math.floor(hi0 / step) + 1 : Math.ceil(hi0 / step)) * step;
  const ticks: number[] = [];
  // Integer steps from lo avoid accumulating floating-point error in the tick values.
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(lo + i * step);
  return { domain: [lo, hi], ticks, at: (v) => (v - lo) / (hi - lo || 1) };
}

const text = (x: number, y: number, content: string, attrs = '') =>
  `<text x="${fixed(x)}" y="${fixed(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;

/** A line chart: several series, axes with ticks and labels, a legend and a title. */
export function lineChart(chart: LineChart): string {
  const area = plotArea(chart);
  const onRight = (s: Series) => s.axis === 'right' && chart.y2 !== undefined;
  const xs = scale(
    chart.x,
    chart.series.flatMap((s) => s.points.map((p) => p[0])),
  );
  const ys = scale(
    chart.y,
    chart.series.filter((s) => !onRight(s)).flatMap((s) => s.points.map((p) => p[1])),
    true,
  );
  const y2s = chart.y2
    ? scale(
        chart.y2,
        chart.series.filter(onRight).flatMap((s) => s.points.map((p) => p[1])),
        true,
      )
    : undefined;
  const px = (v: number) => {
    const t = xs.at(v);
    return t === undefined ? undefined : area.left + t * area.width;
  };
  const py = (v: number, s: Scale) => {
    const t = s.at(v);
    return t === undefined ? undefined : area.bottom - t * area.height;
  };

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" font-family="${FONT}" font-size="12" fill="#222">`,
    `<title>${escapeXml(chart.title)}</title>`,
    ...(chart.description ? [`<desc>${escapeXml(chart.description)}</desc>`] : []),
    // Opaque: readable on a dark page too.
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(WIDTH / 2, 24, chart.title, 'text-anchor="middle" font-size="16" font-weight="600"'),
    `<rect class="plot" x="${area.left}" y="${area.top}" width="${area.width}" height="${area.height}" fill="none" stroke="#999"/>`,
  ];

  // Grid and ticks.
  out.push('<g class="x-axis" stroke="#e5e5e5">');
  for (const tick of xs.ticks) {
    const x = fixed(px(tick)!);
    out.push(`<line x1="${x}" y1="${area.top}" x2="${x}" y2="${area.bottom}"/>`);
  }
  out.push('</g>', '<g class="x-ticks" text-anchor="middle">');
  for (const tick of xs.ticks) out.push(text(px(tick)!, area.bottom + 16, formatTick(tick)));
  out.push('</g>');
  out.push('<g class="y-axis" stroke="#e5e5e5">');
  for (const tick of ys.ticks) {
    const y = fixed(py(tick, ys)!);
    out.push(`<line x1="${area.left}" y1="${y}" x2="${area.right}" y2="${y}"/>`);
  }
  out.push('</g>', '<g class="y-ticks" text-anchor="end">');
  for (const tick of ys.ticks) out.push(text(area.left - 6, py(tick, ys)! + 4, formatTick(tick)));
  out.push('</g>');
  if (y2s) {
    out.push('<g class="y2-ticks" text-anchor="start">');
    for (const tick of y2s.ticks) {
      out.push(text(area.right + 6, py(tick, y2s)! + 4, formatTick(tick)));
    }
    out.push('</g>');
  }

  // Axis labels.
  out.push(
    text((area.left + area.right) / 2, HEIGHT - 16, chart.x.label, 'text-anchor="middle"'),
    text(
      0,
      0,
      chart.y.label,
      `text-anchor="middle" transform="translate(18 ${fixed((area.top + area.bottom) / 2)}) rotate(-90)"`,
    ),
  );
  if (chart.y2) {
    out.push(
      text(
        0,
        0,
        chart.y2.label,
        `text-anchor="middle" transform="translate(${WIDTH - 14} ${fixed((area.top + area.bottom) / 2)}) rotate(-90)"`,
      ),
    );
  }

  // Series, then the legend above the plot area.
  for (const [i, s] of chart.series.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    const ySc = onRight(s) && y2s ? y2s : ys;
    const coords = s.points
      .map(([x, y]) => [px(x), py(y, ySc)] as const)
      .filter((c): c is readonly [number, number] => c[0] !== undefined && c[1] !== undefined);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<g class="series" fill="${colour}" stroke="${colour}">`);
    if (coords.length > 1) {
      const points = coords.map(([x, y]) => `${fixed(x)},${fixed(y)}`).join(' ');
      out.push(`<polyline points="${points}" fill="none" stroke-width="2"${dash}/>`);
    }
    if (s.markers ?? true) {
      for (const [x, y] of coords) out.push(`<circle cx="${fixed(x)}" cy="${fixed(y)}" r="3"/>`);
    }
    out.push('</g>');
  }
  out.push(legend(chart.series, area.left));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One row of swatches and names; a long name wraps to the next row. */
function legend(series: readonly Series[], left: number): string {
  const out = ['<g class="legend">'];
  let x = left;
  let y = 46;
  for (const [i, s] of series.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    // No font metrics without a dependency: about 6.5 units per character at 12 px.
    const width = 28 + s.name.length * 6.5 + 16;
    if (x > left && x + width > WIDTH - 16) {
      x = left;
      y += 16;
    }
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${fixed(x)}" y1="${fixed(y - 4)}" x2="${fixed(x + 22)}" y2="${fixed(y - 4)}" stroke="${colour}" stroke-width="2"${dash}/>`,
      text(x + 28, y, s.name),
    );
    x += width;
  }
  out.push('</g>');
  return out.join('\n');
}

/**
 * Points of an empirical CDF as a step line: x the sample, y the percentage of samples at or
 * below it.
 */
export function cdfPoints(values: readonly number[]): Point[] {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const points: Point[] = [];
  for (const [i, v] of sorted.entries()) {
    points.push([v, (i / n) * 100], [v, ((i + 1) / n) * 100]);
  }
  return points;
}

export interface DistributionChart {
  title: string;
  description?: string;
  x: Axis;
  series: ReadonlyArray<{ name: string; values: readonly number[] }>;
  /** Vertical dashed lines, e.g. a target. */
  references?: ReadonlyArray<{ name: string; x: number }>;
}

/** The CDF of one or more latency samples: read a percentile off where a line crosses it. */
export function cdfChart(chart: DistributionChart): string {
  return lineChart({
    title: chart.title,
    ...(chart.description ? { description: chart.description } : {}),
    x: chart.x,
    y: { label: '% of samples at or below', min: 0, max: 100 },
    series: [
      ...chart.series.map((s) => ({ name: s.name, points: cdfPoints(s.values), markers: false })),
      ...(chart.references ?? []).map((r) => ({
        name: r.name,
        points: [[r.x, 0] as const, [r.x, 100] as const],
        dashed: true,
        markers: false,
      })),
    ],
  });
}
