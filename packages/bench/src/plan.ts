import type { Benchmark, Phase } from './types.js';

/**
 * The workload documented in docs/performance.md: sizes, iteration counts, warm-up and batching, so the
 * numbers here are comparable with the ones measured there.
 */

const K = 1024;
const M = 1024 * 1024;

export const DEFAULT_SIZES: Readonly<Record<Benchmark, readonly number[]>> = {
  latency: [0, 1, 8, 64, 512, 4 * K, 32 * K, 256 * K, M, 4 * M],
  bandwidth: [4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M],
};

/** Non-blocking sends per window before the receiver's ack. */
export const WINDOW = 64;
export const BATCHES = 10;
const WARMUP_FRACTION = 0.1;

/** Timed round trips per size: 20000 up to 4K, 5000 to 32K, 1000 to 256K, 300 to 1M, 100 above. */
export function latencyIterations(size: number): number {
  if (size <= 4 * K) return 20_000;
  if (size <= 32 * K) return 5_000;
  if (size <= 256 * K) return 1_000;
  if (size <= M) return 300;
  return 100;
}

/** Timed windows per size: 400 up to 16K, 150 to 64K, 50 to 256K, 20 to 1M, 10 above. */
export function bandwidthWindows(size: number): number {
  if (size <= 16 * K) return 400;
  if (size <= 64 * K) return 150;
  if (size <= 256 * K) return 50;
  if (size <= M) return 20;
  return 10;
}

/** `count` scaled, rounded to whole batches, at least one iteration per batch. */
export function scaled(count: number, scale: number): number {
  return Math.max(BATCHES, Math.round((count * scale) / BATCHES) * BATCHES);
}

/**
 * Iterations in one warm-up step: 10% of the count, never more than at the default scale. The
 * warm-up is there for the JIT, which needs a number of messages, not a share of the run; a step
 * scaled with --iterations-scale 50 was 100,000 round trips, and the primer alone (one step of
 * every size on every run) took longer than a whole run at the default scale.
 */
function warmupStep(defaultCount: number, iterations: number): number {
  return Math.max(1, Math.round(Math.min(defaultCount, iterations) * WARMUP_FRACTION));
}

/**
 * The phases of a run, latency first. `sizes` overrides both benchmarks' default lists; bandwidth
 * leaves out size 0 (no bytes, no rate).
 */
export function buildPhases(benchmarks: readonly Benchmark[], sizes: readonly number[] | undefined, scale: number): Phase[] {
  const phases: Phase[] = [];
  for (const benchmark of benchmarks) {
    const list = (sizes ?? DEFAULT_SIZES[benchmark]).filter((s) => benchmark === 'latency' || s > 0);
    for (const size of list) {
      const count = benchmark === 'latency' ? latencyIterations(size) : bandwidthWindows(size);
      const iterations = scaled(count, scale);
      phases.push({
        benchmark,
        size,
        iterations,
        warmup: warmupStep(count, iterations),
        batches: BATCHES,
        window: WINDOW,
      });
    }
  }
  return phases;
}
