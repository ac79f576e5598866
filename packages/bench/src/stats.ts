import type { Phase } from './types.js';

export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Iterations in one batch of a phase. */
export function perBatch(phase: Phase): number {
  return phase.iterations / phase.batches;
}

/** Half round trip in µs from the median batch time of a latency phase. */
export function latencyUsec(phase: Phase, batchMs: readonly number[]): number {
  return (median(batchMs) * 1000) / perBatch(phase) / 2;
}

/** MB/s (10^6 B/s) from the median batch time of a bandwidth phase. */
export function bandwidthMbps(phase: Phase, batchMs: readonly number[]): number {
  const bytes = perBatch(phase) * phase.window * phase.size;
  return bytes / (median(batchMs) / 1000) / 1e6;
}

/** The reported value of a phase from its batch times. */
export function phaseValue(phase: Phase, batchMs: readonly number[]): number {
  return phase.benchmark === 'latency' ? latencyUsec(phase, batchMs) : bandwidthMbps(phase, batchMs);
}
