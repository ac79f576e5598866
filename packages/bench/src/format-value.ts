import type { Benchmark } from './types.js';

/** A latency in µs with about three significant digits. */
export function formatUsec(v: number): string {
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** A figure as the tables print it: µs for latency, whole MB/s for bandwidth; `-` when not measured. */
export const formatValue = (benchmark: Benchmark, v: number | undefined) =>
  v === undefined ? '-' : benchmark === 'latency' ? formatUsec(v) : v.toFixed(0);
