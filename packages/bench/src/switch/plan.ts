/**
 * What `switchyard bench switch` and its rank program tell each other.
 *
 *   bench -> ranks   the plan, one JSON argument (traffic shape, where the stop file will be);
 *                    the stop order, a JSON file renamed into place once the verbs are done: the
 *                    measured span and every verb's window, so each rank can analyse its own
 *                    message flow against them.
 *   ranks -> bench   lines on stdout: `BENCH-READY {...}` once the rank streams, `BENCH {...}`
 *                    its report, `BENCH-STALL {...}` when its flow stopped for long.
 *
 * Every time is epoch milliseconds as `performance.timeOrigin + performance.now()` (sub-ms, and
 * comparable between processes of one machine).
 */

export const READY_PREFIX = 'BENCH-READY ';
export const REPORT_PREFIX = 'BENCH ';
export const STALL_PREFIX = 'BENCH-STALL ';

/** The message stream of each rank to each peer. */
export interface TrafficShape {
  /** Small (eager) messages are this many bytes at least, header included... */
  readonly smallMin: number;
  /** ...and at most. */
  readonly smallMax: number;
  /** Every `rndvEvery`-th message to a peer is this large (above every BTL's eager limit). */
  readonly rndvSize: number;
  readonly rndvEvery: number;
  /** The ranks agree (allreduce) every this many rounds whether the stop file is there. */
  readonly checkEvery: number;
}

export interface RankPlan {
  readonly traffic: TrafficShape;
  /** Appears (renamed into place, complete) when the ranks are to stop; holds a StopOrder. */
  readonly stopFile: string;
  /** A rank whose flow stopped this long prints a BENCH-STALL line (once per stall). */
  readonly stallMs: number;
}

/** One verb's run, as the ranks need it. */
export interface VerbWindow {
  /** Index of the verb in the cycle. */
  readonly verb: number;
  readonly cycle: number;
  readonly start: number;
  readonly end: number;
}

export interface StopOrder {
  /** The measured span: from before the first verb's lead-in to after the last verb's tail. */
  readonly span: readonly [number, number];
  /** How many verbs the cycle has (the per-verb arrays of a report have this length). */
  readonly verbs: number;
  readonly windows: readonly VerbWindow[];
  /** Width of the timeline buckets. */
  readonly bucketMs: number;
}

/** A pause in one rank's flow: no message arrived between `from` and `to`. */
export interface Pause {
  readonly ms: number;
  readonly from: number;
  readonly to: number;
}

/** Per verb of the cycle, over all its windows, on one rank. */
export interface VerbFlow {
  readonly messages: number;
  readonly bytes: number;
  /** The longest pause overlapping one of the verb's windows, and that window's cycle. */
  readonly longestPause: (Pause & { readonly cycle: number }) | null;
  /** The longest event-loop block (the rank's thread busy or descheduled) overlapping one of them. */
  readonly longestBlock: (Pause & { readonly cycle: number }) | null;
}

/** Integrity of what one rank received (every count must be 0). */
export interface Integrity {
  /** Indices skipped and never seen (at the end; a late arrival is a reorder instead). */
  readonly lost: number;
  readonly duplicates: number;
  readonly reordered: number;
  /** Wrong size, wrong header (source, destination) or wrong bytes. */
  readonly corrupt: number;
}

export interface RankReport {
  readonly rank: number;
  readonly pid: number;
  readonly rounds: number;
  /** Messages received from each rank (0 for itself). */
  readonly received: readonly number[];
  /** Messages sent to each rank whose send completed (0 for itself). */
  readonly sent: readonly number[];
  readonly integrity: Integrity;
  /** Every message this rank received, over the whole run. */
  readonly messages: number;
  readonly bytes: number;
  /** Within the span: arrivals inside verb windows, and outside them. */
  readonly inside: { readonly messages: number; readonly bytes: number };
  readonly outside: { readonly messages: number; readonly bytes: number };
  /** The longest pause in the span (null when fewer than two messages arrived in it). */
  readonly longestPause: Pause | null;
  /** The longest pause that overlaps no verb's window: the flow's own hiccups, a baseline. */
  readonly longestPauseBetween: Pause | null;
  /**
   * The longest event-loop block in the span: a 5 ms timer that fired late by `ms` (the rank's
   * thread was busy, or not scheduled). Null when none reached the recording threshold.
   */
  readonly longestBlock: Pause | null;
  /** Indexed like the cycle's verbs. */
  readonly perVerb: readonly VerbFlow[];
  /**
   * Indexed like the stop order's windows: the longest pause overlapping each (null when
   * messages kept arriving with no gap reaching into it, or none arrived around it).
   */
  readonly windowPauses: ReadonlyArray<Pause | null>;
  /** Arrivals per bucket of the stop order's width, from bucket `floor(span[0] / bucketMs)`. */
  readonly timeline: readonly number[];
}

export interface ReadyLine {
  readonly rank: number;
  readonly pid: number;
}

export interface StallLine {
  readonly rank: number;
  readonly round: number;
  readonly silentMs: number;
  /** Messages received so far from each rank. */
  readonly received: readonly number[];
}

/** Epoch milliseconds with sub-millisecond resolution. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export function encodeRankPlan(plan: RankPlan): string {
  return JSON.stringify(plan);
}

export function decodeRankPlan(text: string | undefined): RankPlan {
  if (text === undefined) throw new Error('missing the plan argument (this program is started by `switchyard bench switch`)');
  const plan = JSON.parse(text) as RankPlan;
  if (typeof plan.stopFile !== 'string' || typeof plan.traffic?.rndvEvery !== 'number') throw new Error('the bench plan is incomplete');
  return plan;
}

/** The line's JSON when it starts with `prefix`. */
export function parsePrefixed<T>(line: string, prefix: string): T | undefined {
  if (!line.startsWith(prefix)) return undefined;
  try {
    return JSON.parse(line.slice(prefix.length)) as T;
  } catch {
    return undefined;
  }
}
