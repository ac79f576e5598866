import { bandwidthHeld, TARGETS } from './compare.js';
import { RAW_TRANSPORT, RAW_UDS_TRANSPORT } from './transport-names.js';
import type { Benchmark, ProgressMode, TransportRun } from './types.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * A target of the issues, held in one progress mode at some sizes: a run's figure against a
 * fixed bound, or against `factor` times another run's figure at the same size, measured in the
 * same invocation. Latency is held to at most its bound, bandwidth to at least.
 */
interface TargetSpec {
  readonly id: string;
  readonly description: string;
  readonly benchmark: Benchmark;
  /** The run held to the target. */
  readonly transport: string;
  readonly modes: readonly ProgressMode[];
  readonly held: (size: number) => boolean;
  readonly bound: { readonly fixed: number } | { readonly baseline: string; readonly factor: number };
  /** btl-tcp's targets: their verdicts are the tables' target column, summarized as ratios. */
  readonly inTables?: boolean;
}

const BOTH: readonly ProgressMode[] = ['sleep', 'busy'];
const SM = 'switchyard-sm';
const OPENIB = 'switchyard-openib';
const TCP = 'switchyard-tcp';

/** Every target, btl-tcp's first; issue 15's for the fast transports after. */
export const TARGET_SPECS: readonly TargetSpec[] = [
  {
    id: 'tcp-latency',
    description: TARGETS.latency.text,
    benchmark: 'latency',
    transport: TCP,
    modes: BOTH,
    held: () => true,
    bound: { baseline: RAW_TRANSPORT, factor: TARGETS.latency.max },
    inTables: true,
  },
  {
    id: 'tcp-bandwidth',
    description: TARGETS.bandwidth.text,
    benchmark: 'bandwidth',
    transport: TCP,
    modes: BOTH,
    held: bandwidthHeld,
    bound: { baseline: RAW_TRANSPORT, factor: TARGETS.bandwidth.min },
    inTables: true,
  },
  {
    id: 'sm-busy-latency',
    // Node's own floor, a SharedArrayBuffer ping-pong, is 0.08 µs: 1 µs leaves room for the PML.
    description: 'sm busy half round trip at most 1 µs at 0-64 B',
    benchmark: 'latency',
    transport: SM,
    modes: ['busy'],
    held: (size) => size <= 64,
    bound: { fixed: 1 },
  },
  {
    id: 'sm-sleep-latency',
    // A sleeping rank wakes on a doorbell: it should cost no more than a socket's wake-up.
    description: `sm sleeping latency at most ${RAW_UDS_TRANSPORT}'s at 0-512 B`,
    benchmark: 'latency',
    transport: SM,
    modes: ['sleep'],
    held: (size) => size <= 512,
    bound: { baseline: RAW_UDS_TRANSPORT, factor: 1 },
  },
  {
    id: 'sm-bandwidth',
    description: "sm bandwidth at 1 and 4 MiB at least ompi-vader's",
    benchmark: 'bandwidth',
    transport: SM,
    modes: BOTH,
    held: (size) => size === MIB || size === 4 * MIB,
    bound: { baseline: 'ompi-vader', factor: 1 },
  },
  {
    id: 'openib-bandwidth',
    description: "openib bandwidth at least tcp's from 64 KiB up",
    benchmark: 'bandwidth',
    transport: OPENIB,
    modes: BOTH,
    held: (size) => size >= 64 * KIB,
    bound: { baseline: TCP, factor: 1 },
  },
  {
    id: 'openib-latency',
    description: "openib latency at most tcp's at every size",
    benchmark: 'latency',
    transport: OPENIB,
    modes: BOTH,
    held: () => true,
    bound: { baseline: TCP, factor: 1 },
  },
];

/** One size held to a target: the run's figure and the bound it is held to (µs or MB/s). */
export interface TargetPoint {
  readonly size: number;
  readonly value: number;
  readonly bound: number;
  /** value over the baseline's figure; undefined for a fixed bound. */
  readonly ratio?: number;
  readonly pass: boolean;
}

/** A target as measured in one mode of one invocation. */
export interface TargetResult {
  readonly id: string;
  readonly description: string;
  readonly mode: ProgressMode;
  readonly benchmark: Benchmark;
  readonly transport: string;
  /** The run the bound comes from; null for a fixed bound. */
  readonly baseline: string | null;
  readonly inTables: boolean;
  readonly pass: boolean;
  /** Every size held, in order. */
  readonly points: readonly TargetPoint[];
  readonly misses: readonly TargetPoint[];
}

const figures = (run: TransportRun, benchmark: Benchmark) =>
  benchmark === 'latency' ? run.latency.map((p) => ({ size: p.size, v: p.usec })) : run.bandwidth.map((p) => ({ size: p.size, v: p.mbps }));

/**
 * Each target in each mode where both its sides ran (the run held to it and its baseline) and
 * measured at least one size it is held at; a target with a side missing gives no result.
 */
export function evaluateTargets(runs: readonly TransportRun[], specs: readonly TargetSpec[] = TARGET_SPECS): TargetResult[] {
  const out: TargetResult[] = [];
  const modes = [...new Set(runs.map((r) => r.mode))];
  for (const mode of modes) {
    for (const spec of specs) {
      if (!spec.modes.includes(mode)) continue;
      const run = runs.find((r) => r.transport === spec.transport && r.mode === mode);
      const baseline = 'baseline' in spec.bound ? spec.bound.baseline : null;
      const base = baseline === null ? undefined : runs.find((r) => r.transport === baseline && r.mode === mode);
      if (!run || (baseline !== null && !base)) continue;
      const points: TargetPoint[] = [];
      for (const { size, v } of figures(run, spec.benchmark)) {
        if (!spec.held(size)) continue;
        const point = held(spec, size, v, base && figures(base, spec.benchmark).find((p) => p.size === size)?.v);
        if (point) points.push(point);
      }
      if (!points.length) continue;
      const misses = points.filter((p) => !p.pass);
      out.push({
        id: spec.id,
        description: spec.description,
        mode,
        benchmark: spec.benchmark,
        transport: spec.transport,
        baseline,
        inTables: spec.inTables ?? false,
        pass: !misses.length,
        points,
        misses,
      });
    }
  }
  return out;
}

/** One size against its bound; undefined when the baseline did not measure it. */
function held(spec: TargetSpec, size: number, value: number, baseValue: number | undefined): TargetPoint | undefined {
  const atMost = spec.benchmark === 'latency';
  if ('fixed' in spec.bound) {
    const bound = spec.bound.fixed;
    return { size, value, bound, pass: atMost ? value <= bound : value >= bound };
  }
  if (baseValue === undefined) return undefined;
  const { factor } = spec.bound;
  // Judged on the ratio, as the tables' ratio columns are.
  const ratio = value / baseValue;
  return { size, value, bound: baseValue * factor, ratio, pass: atMost ? ratio <= factor : ratio >= factor };
}
