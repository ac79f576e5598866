/**
 * From the faults and the ranks' reports to the results of `switchyard bench failover`: per kind
 * the time from each fault to the flow resuming, the longest pause, integrity; the cost of the
 * protection; and the targets.
 */
import { messageTotals, percentile, type Summary, type Target } from '../switch/summary.js';
import { COST_BANDWIDTH_SIZE, COST_LATENCY_SIZE, type CostRun } from './cost.js';
import { FAULT_KINDS, type FaultKindName } from './kinds.js';
import type { FailoverRun, FaultRecord, KindRun } from './run.js';

export const RECOVERY_P50_MS = 50;
/** The protection may cost this much latency or bandwidth, as a fraction. */
export const MAX_COST = 0.03;

export interface FaultResult extends FaultRecord {
  /**
   * From the fault to the end of the longest pause overlapping its window, on the rank where
   * that came last: when every rank's flow was going again. Null when no rank reported on it.
   */
  readonly recoveryMs: number | null;
  /** The longest pause overlapping the window, and its rank. */
  readonly pauseMs: number | null;
  readonly pauseRank: number | null;
}

export interface KindSummary {
  readonly kind: FaultKindName;
  readonly description: string;
  readonly mca: ReadonlyArray<readonly [string, string]>;
  readonly skipped: string | null;
  readonly error: string | null;
  readonly faults: readonly FaultResult[];
  /** Things hit by the faults together (sockets, devices). */
  readonly injected: number;
  readonly recovery: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  readonly longestPause: { readonly ms: number; readonly rank: number; readonly fault: number } | null;
  /**
   * The longest pause anywhere in the run (e.g. when the faulted transport comes back and takes
   * its traffic again), with the fault before it and how long after that fault it began.
   */
  readonly longestPauseInRun: {
    readonly ms: number;
    readonly rank: number;
    readonly fault: number | null;
    readonly afterMs: number | null;
  } | null;
  /** From a fault to the faulted transport carrying every link again (the job's own recovery), ms. */
  readonly back: { readonly p50: number; readonly max: number } | null;
  readonly messages: Summary['messages'] | null;
}

export interface CostSummary {
  readonly error: string | null;
  readonly latency: { readonly size: number; readonly on: number; readonly off: number; readonly cost: number } | null;
  readonly bandwidth: { readonly size: number; readonly on: number; readonly off: number; readonly cost: number } | null;
}

export interface FailoverSummary {
  readonly kinds: readonly KindSummary[];
  readonly cost: CostSummary;
  readonly targets: readonly Target[];
  /** Every kind that was not skipped ran to the end, and the cost was measured. */
  readonly complete: boolean;
}

function summarizeKind(run: KindRun): KindSummary {
  const faults = run.faults.map((f, k): FaultResult => {
    let recoveryMs: number | null = null;
    let pauseMs: number | null = null;
    let pauseRank: number | null = null;
    for (const rank of run.ranks ?? []) {
      const p = rank.windowPauses[k];
      if (!p) continue;
      recoveryMs = Math.max(recoveryMs ?? 0, p.to - f.at);
      if (pauseMs === null || p.ms > pauseMs) {
        pauseMs = p.ms;
        pauseRank = rank.rank;
      }
    }
    return { ...f, recoveryMs, pauseMs, pauseRank };
  });
  const times = faults.flatMap((f) => (f.recoveryMs === null ? [] : [f.recoveryMs]));
  let longestPause: KindSummary['longestPause'] = null;
  faults.forEach((f, i) => {
    if (f.pauseMs !== null && (!longestPause || f.pauseMs > longestPause.ms))
      longestPause = { ms: f.pauseMs, rank: f.pauseRank!, fault: i + 1 };
  });
  const back = faults.map((f) => f.backMs);
  let longestPauseInRun: KindSummary['longestPauseInRun'] = null;
  for (const rank of run.ranks ?? []) {
    const p = rank.longestPause;
    if (!p || (longestPauseInRun && p.ms <= longestPauseInRun.ms)) continue;
    const before = faults.filter((f) => f.at <= p.from).length;
    longestPauseInRun = { ms: p.ms, rank: rank.rank, fault: before || null, afterMs: before ? p.from - faults[before - 1]!.at : null };
  }
  return {
    kind: run.kind,
    description: FAULT_KINDS[run.kind].description,
    mca: run.mca,
    skipped: run.skipped ?? null,
    error: run.error ?? null,
    faults,
    injected: faults.reduce((n, f) => n + f.count, 0),
    recovery: times.length ? { p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: Math.max(...times) } : null,
    longestPause,
    longestPauseInRun,
    back: back.length ? { p50: percentile(back, 0.5), max: Math.max(...back) } : null,
    messages: run.ranks ? messageTotals(run.ranks) : null,
  };
}

function summarizeCost(cost: CostRun): CostSummary {
  return {
    error: cost.error ?? null,
    latency: cost.latency ? { size: COST_LATENCY_SIZE, ...cost.latency, cost: cost.latency.on / cost.latency.off - 1 } : null,
    bandwidth: cost.bandwidth ? { size: COST_BANDWIDTH_SIZE, ...cost.bandwidth, cost: 1 - cost.bandwidth.on / cost.bandwidth.off } : null,
  };
}

export function summarizeFailover(run: FailoverRun): FailoverSummary {
  const kinds = run.kinds.map(summarizeKind);
  const cost = summarizeCost(run.cost);
  const targets: Target[] = [];
  for (const k of kinds) {
    if (k.skipped) continue;
    const p50 = k.recovery?.p50 ?? null;
    targets.push({
      name: `${k.kind}: recovery p50 under ${RECOVERY_P50_MS} ms`,
      value: p50,
      limit: RECOVERY_P50_MS,
      unit: 'ms',
      pass: p50 === null ? null : p50 < RECOVERY_P50_MS,
      required: false,
    });
    const m = k.messages;
    const bad = m ? m.lost + m.duplicates + m.reordered + m.corrupt + m.unbalanced : null;
    targets.push({
      name: `${k.kind}: zero loss (lost, duplicated, reordered, damaged)`,
      value: bad,
      limit: 0,
      unit: 'messages',
      pass: bad === null ? null : bad === 0,
      required: true,
    });
  }
  const pct = (v: number) => Number((v * 100).toFixed(2));
  const limit = pct(MAX_COST);
  const lat = cost.latency ? pct(cost.latency.cost) : null;
  const bw = cost.bandwidth ? pct(cost.bandwidth.cost) : null;
  targets.push({
    name: `protection cost, tcp latency at 0 B, under ${limit}%`,
    value: lat,
    limit,
    unit: '%',
    pass: lat === null ? null : lat < limit,
    required: false,
  });
  targets.push({
    name: `protection cost, tcp bandwidth at 4 KiB, under ${limit}%`,
    value: bw,
    limit,
    unit: '%',
    pass: bw === null ? null : bw < limit,
    required: false,
  });
  const complete = kinds.every((k) => k.skipped !== null || k.error === null) && cost.error === null;
  return { kinds, cost, targets, complete };
}
