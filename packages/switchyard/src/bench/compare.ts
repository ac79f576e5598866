import { RAW_TRANSPORT } from './transport-names.js';
import type { Benchmark, ProgressMode, TransportRun } from './types.js';

/** Bandwidth is held to its target from this size up. */
export const BANDWIDTH_TARGET_MIN_SIZE = 1024 * 1024;

/** The targets of the issue, for btl-tcp against raw Node TCP. */
export const TARGETS = {
  latency: { max: 1.2, text: 'btl-tcp latency within 1.2x of raw Node TCP' },
  bandwidth: { min: 0.9, text: 'btl-tcp bandwidth at ≥1 MiB at least 90% of raw Node TCP' },
} as const;

export interface Comparison {
  readonly mode: ProgressMode;
  readonly benchmark: Benchmark;
  readonly transport: string;
  readonly baseline: string;
  readonly size: number;
  /** Switchyard's value over the baseline's: µs over µs for latency, MB/s over MB/s for bandwidth. */
  readonly ratio: number;
  /** The target this size is held to, if any (btl-tcp only; bandwidth from 1 MiB). */
  readonly target: { readonly max: number } | { readonly min: number } | null;
  readonly pass: boolean | null;
}

/** Every Switchyard run against the raw baseline of the same mode, size by size. */
export function compare(runs: readonly TransportRun[]): Comparison[] {
  const out: Comparison[] = [];
  for (const run of runs) {
    if (run.transport === RAW_TRANSPORT) continue;
    const raw = runs.find((r) => r.transport === RAW_TRANSPORT && r.mode === run.mode);
    if (!raw) continue;
    const isTcp = run.transport === 'switchyard-tcp';
    for (const point of run.latency) {
      const base = raw.latency.find((p) => p.size === point.size);
      if (!base) continue;
      const ratio = point.usec / base.usec;
      const target = isTcp ? { max: TARGETS.latency.max } : null;
      out.push({ mode: run.mode, benchmark: 'latency', transport: run.transport, baseline: raw.transport, size: point.size, ratio, target, pass: target ? ratio <= target.max : null });
    }
    for (const point of run.bandwidth) {
      const base = raw.bandwidth.find((p) => p.size === point.size);
      if (!base) continue;
      const ratio = point.mbps / base.mbps;
      const target = isTcp && point.size >= BANDWIDTH_TARGET_MIN_SIZE ? { min: TARGETS.bandwidth.min } : null;
      out.push({ mode: run.mode, benchmark: 'bandwidth', transport: run.transport, baseline: raw.transport, size: point.size, ratio, target, pass: target ? ratio >= target.min : null });
    }
  }
  return out;
}
