import { WINDOW } from '../plan.js';
import { formatSize } from '../sizes.js';
import { displayName } from '../transport-names.js';
import type { Benchmark } from '../types.js';
import type { ChartResults } from './results.js';
import { linearAxis, logAxis, sizeAxis, type Axis } from './scale.js';

const WIDTH = 960;
const PANEL_HEIGHT = 380;
const TOP = 56;
const PLOT = { left: 84, right: 700, top: 40, bottom: 310 };
/** Colour-blind-safe (Okabe-Ito); busy-poll runs are dashed in their transport's colour. */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const PANELS: Record<Benchmark, { title: string; axis: string }> = {
  latency: { title: 'Latency, half round trip (lower is better)', axis: 'µs (log scale)' },
  bandwidth: { title: `Bandwidth, windows of ${WINDOW} sends (higher is better)`, axis: 'MB/s (10^6 B/s)' },
};

interface Series {
  readonly name: string;
  readonly colour: string;
  readonly dashed: boolean;
  readonly points: ReadonlyArray<{ size: number; value: number }>;
}

/**
 * An SVG of a bench's results: one panel per benchmark with figures (latency, bandwidth), value
 * against message size, one line per run (transport, and progress mode when there are two).
 */
export function renderChart(results: ChartResults): string {
  const benchmarks = (['latency', 'bandwidth'] as const).filter((b) => results.runs.some((r) => points(r, b).length));
  const height = TOP + benchmarks.length * PANEL_HEIGHT;
  const body = benchmarks.map((b, i) => panel(b, seriesOf(results, b), TOP + i * PANEL_HEIGHT)).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="sans-serif" font-size="13">\n` +
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>\n` +
    `<text class="title" x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="17">${escape(title(results))}</text>\n` +
    `${body}</svg>\n`
  );
}

function title(results: ChartResults): string {
  const m = results.machine;
  const where = m ? `: Node ${m.node ?? '?'}, ${m.platform ?? '?'} ${m.arch ?? ''}, ${m.cpus ?? '?'} x ${m.cpuModel ?? '?'}` : '';
  const scale = results.settings?.iterationsScale;
  return `switchyard bench${where}${scale !== undefined && scale !== 1 ? `; iterations x ${scale}` : ''}`;
}

function points(run: ChartResults['runs'][number], benchmark: Benchmark) {
  return benchmark === 'latency'
    ? run.latency.map((p) => ({ size: p.size, value: p.usec }))
    : run.bandwidth.map((p) => ({ size: p.size, value: p.mbps }));
}

function seriesOf(results: ChartResults, benchmark: Benchmark): Series[] {
  const transports = [...new Set(results.runs.map((r) => r.transport))];
  const bothModes = new Set(results.runs.map((r) => r.mode)).size > 1;
  return results.runs
    .filter((r) => points(r, benchmark).length)
    .map((r) => {
      const label = displayName(r.transport);
      return {
        name: bothModes ? `${label} (${r.mode})` : label,
        colour: COLOURS[transports.indexOf(r.transport) % COLOURS.length]!,
        dashed: r.mode === 'busy',
        points: points(r, benchmark).sort((a, b) => a.size - b.size),
      };
    });
}

function panel(benchmark: Benchmark, series: readonly Series[], y0: number): string {
  const all = series.flatMap((s) => s.points);
  const x = sizeAxis(all.map((p) => p.size), PLOT.left, PLOT.right, formatSize);
  const values = all.map((p) => p.value);
  const y = benchmark === 'latency' ? logAxis(values, PLOT.bottom, PLOT.top) : linearAxis(values, PLOT.bottom, PLOT.top);
  let out = `<g class="panel" data-benchmark="${benchmark}" transform="translate(0 ${y0})">\n`;
  out += `<text class="panel-title" x="${(PLOT.left + PLOT.right) / 2}" y="22" text-anchor="middle" ` +
    `font-size="15">${escape(PANELS[benchmark].title)}</text>\n`;
  out += grid(x, y);
  out += `<text class="axis-title x" x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 44}" text-anchor="middle">message size ` +
    `(bytes, log scale)</text>\n`;
  out += `<text class="axis-title y" transform="translate(22 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" ` +
    `text-anchor="middle">${escape(PANELS[benchmark].axis)}</text>\n`;
  for (const s of series) out += line(s, x, y);
  out += legend(series);
  return `${out}</g>\n`;
}

function grid(x: Axis, y: Axis): string {
  let out = `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" ` +
    `stroke="#888"/>\n`;
  for (const t of x.ticks) {
    const px = r(x.at(t.value));
    out += `<line x1="${px}" y1="${PLOT.top}" x2="${px}" y2="${PLOT.bottom}" stroke="#e4e4e4"/><text class="tick x" x="${px}" ` +
      `y="${PLOT.bottom + 20}" text-anchor="middle">${escape(t.label)}</text>\n`;
  }
  for (const t of y.ticks) {
    const py = r(y.at(t.value));
    out += `<line x1="${PLOT.left}" y1="${py}" x2="${PLOT.right}" y2="${py}" stroke="#e4e4e4"/><text class="tick y" x="${PLOT.left - 8}" ` +
      `y="${py + 4}" text-anchor="end">${escape(t.label)}</text>\n`;
  }
  return out;
}

function line(s: Series, x: Axis, y: Axis): string {
  const coords = s.points.map((p) => `${r(x.at(p.size))},${r(y.at(p.value))}`);
  const dash = s.dashed ? ' stroke-dasharray="7 4"' : '';
  let out = `<g class="series" data-series="${escape(s.name)}">\n<title>${escape(s.name)}</title>\n`;
  out += `<polyline points="${coords.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2"${dash}/>\n`;
  out += coords.map((c) => `<circle cx="${c.split(',')[0]}" cy="${c.split(',')[1]}" r="3" fill="${s.colour}"/>`).join('');
  return `${out}\n</g>\n`;
}

function legend(series: readonly Series[]): string {
  const x = PLOT.right + 24;
  return series
    .map((s, i) => {
      const y = PLOT.top + 12 + i * 22;
      const dash = s.dashed ? ' stroke-dasharray="7 4"' : '';
      return `<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${s.colour}" stroke-width="2"${dash}/><text class="legend" ` +
        `x="${x + 36}" y="${y + 4}">${escape(s.name)}</text>\n`;
    })
    .join('');
}

const r = (v: number) => Math.round(v * 10) / 10;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
