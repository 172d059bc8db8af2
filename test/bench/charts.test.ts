import { describe, expect, it } from 'vitest';
import {
  cdfChart,
  cdfPoints,
  formatTick,
  HEIGHT,
  type LineChart,
  lineChart,
  plotArea,
  WIDTH,
} from '../../bench/charts.ts';

const chart: LineChart = {
  title: 'Throughput <vs> latency & more',
  description: 'msg/s at each node latency',
  x: { label: 'node latency (ms)' },
  y: { label: 'msg/s' },
  y2: { label: 'p95 ms' },
  series: [
    {
      name: 'throughput',
      points: [
        [0, 180.4],
        [20, 150.25],
        [50, 97],
        [100, 61.333333],
      ],
    },
    {
      name: 'p95',
      axis: 'right',
      dashed: true,
      points: [
        [0, 900],
        [100, 2400],
      ],
    },
  ],
};

/** Checks that every element is closed in order (no XML parser in the dependencies). */
function assertBalanced(svg: string) {
  const stack: string[] = [];
  for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    if (close) expect(stack.pop(), `</${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name!);
  }
  expect(stack).toEqual([]);
}

/** The tick labels of one axis group, e.g. `x-ticks`. */
const ticks = (svg: string, group: string) => {
  const body = new RegExp(`<g class="${group}"[^>]*>([\\s\\S]*?)</g>`).exec(svg)?.[1] ?? '';
  return [...body.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]);
};

const numbers = (svg: string, element: string, attrs: [string, string]) =>
  [...svg.matchAll(new RegExp(`<${element}\\b[^>]*>`, 'g'))].map(([tag]) =>
    attrs.map((a) => Number(new RegExp(`\\b${a}="([^"]+)"`).exec(tag)?.[1])),
  );

describe('lineChart', () => {
  const svg = lineChart(chart);

  it('is one balanced <svg> element with an accessible title and description first', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    assertBalanced(svg);
    expect(svg).toMatch(
      /^<svg[^>]*role="img"[^>]*>\n<title>Throughput &lt;vs&gt; latency &amp; more<\/title>\n<desc>msg\/s/,
    );
    expect(svg).toContain(`viewBox="0 0 ${WIDTH} ${HEIGHT}"`);
  });

  it('scales every point into the plot area', () => {
    const area = plotArea(chart);
    const dots = numbers(svg, 'circle', ['cx', 'cy']);
    expect(dots).toHaveLength(6);
    const polylines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].flatMap(([, p]) =>
      p!.split(' ').map((xy) => xy.split(',').map(Number)),
    );
    for (const [x, y] of [...dots, ...polylines]) {
      expect(x).toBeGreaterThanOrEqual(area.left);
      expect(x).toBeLessThanOrEqual(area.right);
      expect(y).toBeGreaterThanOrEqual(area.top);
      expect(y).toBeLessThanOrEqual(area.bottom);
    }
    // x = 0 sits on the left edge of the plot; a larger y is higher up (smaller SVG y).
    expect(dots[0]![0]).toBe(area.left);
    expect(dots[0]![1]!).toBeLessThan(dots[3]![1]!);
  });

  it('labels the axes with ticks on both y axes', () => {
    expect(svg).toContain('>node latency (ms)</text>');
    expect(svg).toContain('>msg/s</text>');
    expect(svg).toContain('>p95 ms</text>');
    expect(ticks(svg, 'x-ticks')).toEqual(['0', '20', '40', '60', '80', '100']);
    expect(svg).toMatch(/<g class="y2-ticks"[^>]*>\n<text[^>]*>0<\/text>/);
    expect(svg).toContain('>2,500</text>');
  });

  it('has a legend entry per series, dashed where the series is', () => {
    const legend = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(legend).toContain('>throughput</text>');
    expect(legend).toContain('>p95</text>');
    expect(legend.match(/stroke-dasharray/g)).toHaveLength(1);
  });

  it('is deterministic, with fixed precision', () => {
    expect(lineChart(structuredClone(chart))).toBe(svg);
    expect(svg).not.toMatch(/\d\.\d{2,}/);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('leaves a step of headroom above a y value on a tick, none after the last x', () => {
    const flat = lineChart({
      title: 'flat',
      x: { label: 'shards' },
      y: { label: 'requests' },
      series: [
        {
          name: 'requests',
          points: [
            [0, 10],
            [20_000, 10],
          ],
        },
      ],
    });
    expect(ticks(flat, 'y-ticks').at(-1)).toBe('12');
    expect(ticks(flat, 'x-ticks').at(-1)).toBe('20,000');
  });

  it('puts powers of ten on a log axis and leaves out values it cannot show', () => {
    const log = lineChart({
      title: 'log',
      x: { label: 'resources', log: true },
      y: { label: 'requests', log: true },
      series: [
        {
          name: 'baseline',
          points: [
            [0, 0],
            [10, 10],
            [10_000, 10_000],
          ],
        },
      ],
    });
    assertBalanced(log);
    expect(numbers(log, 'circle', ['cx', 'cy'])).toHaveLength(2);
    // From the decade of the smallest value shown, not from 1.
    expect(ticks(log, 'x-ticks')).toEqual(['10', '100', '1,000', '10,000']);
  });
});

describe('cdfChart', () => {
  it('steps from 0 to 100% over the sorted samples', () => {
    expect(cdfPoints([30, 10, 20, 40])).toEqual([
      [10, 0],
      [10, 25],
      [20, 25],
      [20, 50],
      [30, 50],
      [30, 75],
      [40, 75],
      [40, 100],
    ]);
  });

  it('draws each sample as a line and a reference as a dashed vertical line', () => {
    const svg = cdfChart({
      title: 'latency',
      x: { label: 'ms' },
      series: [
        { name: 'waves', values: [120, 340, 200, 800] },
        { name: 'singles', values: [1_050, 1_100] },
      ],
      references: [{ name: 'target', x: 1_000 }],
    });
    assertBalanced(svg);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).not.toContain('<circle');
    expect(svg).toMatch(/stroke-dasharray="6 4"\/>\n<\/g>/);
    expect(ticks(svg, 'y-ticks')).toEqual(['0', '20', '40', '60', '80', '100']);
  });
});

describe('formatTick', () => {
  it('groups thousands and keeps at most two decimals', () => {
    expect(formatTick(20_000)).toBe('20,000');
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(-1234.567)).toBe('-1,234.57');
    expect(formatTick(0)).toBe('0');
  });
});
