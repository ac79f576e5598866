/**
 * Axis arithmetic of the charts. Message sizes span 0 B to megabytes, so x is a log scale; size 0
 * has no logarithm and is drawn one step left of the smallest size, under its own "0" tick.
 */

export interface Axis {
  /** Maps a value to a pixel position along the axis. */
  readonly at: (value: number) => number;
  readonly ticks: ReadonlyArray<{ readonly value: number; readonly label: string }>;
}

/** Log2 x axis with a tick at every measured size. */
export function sizeAxis(sizes: readonly number[], from: number, to: number, label: (size: number) => string): Axis {
  const positive = sizes.filter((s) => s > 0);
  const smallest = positive.length ? Math.min(...positive) : 1;
  const largest = positive.length ? Math.max(...positive) : 1;
  const pos = (s: number) => (s > 0 ? Math.log2(s) : Math.log2(smallest) - 3);
  const lo = pos(sizes.includes(0) ? 0 : smallest);
  const hi = Math.max(Math.log2(largest), lo + 1);
  return {
    at: (s) => from + ((pos(s) - lo) / (hi - lo)) * (to - from),
    ticks: [...new Set(sizes)].sort((a, b) => a - b).map((value) => ({ value, label: label(value) })),
  };
}

/** Log10 y axis (latency spans decades), from and to a 1, 2 or 5 of a decade, with a tick at each. */
export function logAxis(values: readonly number[], from: number, to: number): Axis {
  const positive = values.filter((v) => v > 0);
  const min = positive.length ? Math.min(...positive) : 1;
  const max = positive.length ? Math.max(...positive) : 10;
  const nice: number[] = [];
  for (let d = Math.floor(Math.log10(min)); d <= Math.ceil(Math.log10(max)); d++) for (const m of [1, 2, 5]) nice.push(m * 10 ** d);
  const bottom = nice.filter((v) => v <= min).pop() ?? nice[0]!;
  const top = Math.max(nice.find((v) => v >= max) ?? nice[nice.length - 1]!, bottom * 2);
  const lo = Math.log10(bottom);
  const hi = Math.log10(top);
  const ticks = [...nice, top]
    .filter((v, i, all) => v >= bottom && v <= top && all.indexOf(v) === i)
    .map((value) => ({ value, label: formatNumber(value) }));
  return { at: (v) => from + ((Math.log10(Math.max(v, bottom)) - lo) / (hi - lo)) * (to - from), ticks };
}

/** Linear y axis from 0 (bandwidth) with about five round ticks. */
export function linearAxis(values: readonly number[], from: number, to: number): Axis {
  const max = Math.max(...values, 1);
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push({ value: v, label: formatNumber(v) });
  return { at: (v) => from + (v / top) * (to - from), ticks };
}

function formatNumber(v: number): string {
  if (v >= 1e6 && v % 1e6 === 0) return `${v / 1e6}M`;
  if (v >= 1e4 && v % 1e3 === 0) return `${v / 1e3}k`;
  return String(Number(v.toPrecision(3)));
}
