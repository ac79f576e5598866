import { formatUsec } from './format-value.js';
import { formatSize } from './sizes.js';
import type { TargetPoint, TargetResult } from './targets.js';
import type { Benchmark } from './types.js';

const number = (benchmark: Benchmark, v: number) => (benchmark === 'latency' ? formatUsec(v) : v.toFixed(0));
const UNITS: Record<Benchmark, string> = { latency: ' µs', bandwidth: ' MB/s' };

/** `lo-hi` and the unit, or one figure when both ends print alike. */
function range(values: readonly number[], format: (v: number) => string, unit: string): string {
  const lo = format(Math.min(...values));
  const hi = format(Math.max(...values));
  return `${lo === hi ? lo : `${lo}-${hi}`}${unit}`;
}

/**
 * The targets' summary lines, one per target and mode: its verdict, the range the run measured
 * at the sizes held (and its range of ratios to the baseline), and each size that misses with
 * its figure against the bound.
 */
export function renderTargets(results: readonly TargetResult[]): string {
  return results.map((t) => `  ${t.mode}: ${t.description}: ${verdict(t)}\n`).join('');
}

function verdict(t: TargetResult): string {
  const n = t.points.length;
  const fig = (v: number) => `${number(t.benchmark, v)}${UNITS[t.benchmark]}`;
  const ratios = t.points.flatMap((p) => (p.ratio === undefined ? [] : [p.ratio]));
  const measured =
    `${t.transport} ${range(t.points.map((p) => p.value), (v) => number(t.benchmark, v), UNITS[t.benchmark])}` +
    (t.baseline && ratios.length ? `, ${range(ratios, (r) => r.toFixed(2), 'x')} ${t.baseline}` : '');
  if (t.pass) return `PASS at ${n === 1 ? 'the only size' : `all ${n} sizes`} (${measured})`;
  return `MISS at ${t.misses.length} of ${n} size${n === 1 ? '' : 's'} (${measured}): ${t.misses.map((p) => miss(t, p, fig)).join(', ')}`;
}

function miss(t: TargetResult, p: TargetPoint, fig: (v: number) => string): string {
  const op = t.benchmark === 'latency' ? '>' : '<';
  return `${formatSize(p.size)} ${fig(p.value)} ${op} ${fig(p.bound)}`;
}
