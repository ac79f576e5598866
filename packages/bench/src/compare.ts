import { isSwitchyardRun, OMPI_TCP_TRANSPORT, RAW_TRANSPORT, RAW_UDS_TRANSPORT } from './transport-names.js';
import type { Benchmark, ProgressMode, TransportRun } from './types.js';

/** Bandwidth is held to its target from this size up, */
export const BANDWIDTH_TARGET_MIN_SIZE = 1024 * 1024;
/** and at this small-message size (issue 15: the per-message cost of the whole path). */
export const BANDWIDTH_TARGET_SMALL_SIZE = 4 * 1024;

/** The targets of the issues, for btl-tcp against raw Node TCP. */
export const TARGETS = {
  latency: { max: 1.2, text: 'btl-tcp latency within 1.2x of raw Node TCP' },
  bandwidth: { min: 0.9, text: 'btl-tcp bandwidth at 4 KiB and at ≥1 MiB at least 90% of raw Node TCP' },
} as const;

/** The sizes btl-tcp's bandwidth is held to its target at. */
export function bandwidthHeld(size: number): boolean {
  return size === BANDWIDTH_TARGET_SMALL_SIZE || size >= BANDWIDTH_TARGET_MIN_SIZE;
}

export interface Comparison {
  readonly mode: ProgressMode;
  readonly benchmark: Benchmark;
  readonly transport: string;
  /** `raw-node-tcp`, or `raw-node-uds` and `ompi-tcp` when they ran (never held to a target here). */
  readonly baseline: string;
  readonly size: number;
  /** Switchyard's value over the baseline's: µs over µs for latency, MB/s over MB/s for bandwidth. */
  readonly ratio: number;
  /** The target this size is held to, if any (btl-tcp against raw only; bandwidth at 4 KiB and from 1 MiB). */
  readonly target: { readonly max: number } | { readonly min: number } | null;
  readonly pass: boolean | null;
}

/**
 * Every Switchyard run against each baseline of the same mode that ran, size by size: raw Node
 * TCP (with btl-tcp's targets), raw Node over a Unix socket, and Open MPI's tcp BTL.
 */
export function compare(runs: readonly TransportRun[]): Comparison[] {
  const out: Comparison[] = [];
  for (const baselineName of [RAW_TRANSPORT, RAW_UDS_TRANSPORT, OMPI_TCP_TRANSPORT]) {
    for (const run of runs) {
      if (!isSwitchyardRun(run.transport)) continue;
      const base = runs.find((r) => r.transport === baselineName && r.mode === run.mode);
      if (!base) continue;
      const held = baselineName === RAW_TRANSPORT && run.transport === 'switchyard-tcp';
      const common = { mode: run.mode, transport: run.transport, baseline: base.transport };
      for (const point of run.latency) {
        const b = base.latency.find((p) => p.size === point.size);
        if (!b) continue;
        const ratio = point.usec / b.usec;
        const target = held ? { max: TARGETS.latency.max } : null;
        out.push({ ...common, benchmark: 'latency', size: point.size, ratio, target, pass: target ? ratio <= target.max : null });
      }
      for (const point of run.bandwidth) {
        const b = base.bandwidth.find((p) => p.size === point.size);
        if (!b) continue;
        const ratio = point.mbps / b.mbps;
        const target = held && bandwidthHeld(point.size) ? { min: TARGETS.bandwidth.min } : null;
        out.push({ ...common, benchmark: 'bandwidth', size: point.size, ratio, target, pass: target ? ratio >= target.min : null });
      }
    }
  }
  return out;
}
