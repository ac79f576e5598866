/**
 * From the verbs' timings and the ranks' reports to the bench's results: per verb name the time
 * from command to completion, the longest pause, throughput during and outside verbs, integrity,
 * and the targets.
 */
import { describeVerb, type Verb } from '@switchyard/control';
import type { Integrity, Pause, RankReport, StopOrder } from './plan.js';
import type { VerbPhases } from './probe.js';

/** One verb as the bench ran it, with where its time went. */
export interface VerbRun extends Readonly<VerbPhases> {
  /** Position in the cycle. */
  readonly index: number;
  readonly cycle: number;
  readonly verb: string;
  /** Epoch ms: called, and completed. */
  readonly start: number;
  readonly end: number;
  /** end - start. */
  readonly ms: number;
  /** The coordinator's own account of the verb's time. */
  readonly coordinatorMs: number;
  readonly outcome: 'done' | 'refused' | 'failed';
  readonly errors: readonly string[];
}

export interface Throughput {
  readonly seconds: number;
  readonly messages: number;
  readonly bytes: number;
  /** Messages received by all ranks together, per second. */
  readonly msgsPerSec: number;
  readonly bytesPerSec: number;
}

export interface VerbSummary {
  readonly verb: string;
  readonly count: number;
  readonly failed: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** p50 of the phases: prepare and commit (request to last answer), the slowest rank's own commit time. */
  readonly phases: { readonly prepare: number; readonly commit: number; readonly rankCommit: number };
  /** The longest pause any rank saw overlapping one of this verb's runs. */
  readonly longestPause: { readonly ms: number; readonly rank: number; readonly cycle: number } | null;
  /** The longest event-loop block any rank had overlapping one of this verb's runs. */
  readonly longestBlock: { readonly ms: number; readonly rank: number; readonly cycle: number } | null;
  readonly during: Throughput;
}

export interface LongestPause {
  readonly ms: number;
  readonly rank: number;
  /** Epoch ms. */
  readonly from: number;
  readonly to: number;
  /** The verb whose run it overlapped most, if any. */
  readonly verb: string | null;
  readonly cycle: number | null;
}

export interface Target {
  readonly name: string;
  readonly value: number | null;
  readonly limit: number;
  readonly unit: 'ms' | 'messages' | '%';
  /** null: nothing to measure it on (e.g. no switch among the verbs). */
  readonly pass: boolean | null;
  /** A target whose miss fails the command (zero loss). */
  readonly required: boolean;
}

export interface Summary {
  readonly verbs: readonly VerbSummary[];
  readonly longestPause: LongestPause | null;
  /** The longest pause of any rank that overlaps no verb: what the flow does without switching. */
  readonly longestPauseBetween: LongestPause | null;
  /** The longest event-loop block of any rank in the span (its thread busy or not scheduled). */
  readonly longestBlock: LongestPause | null;
  readonly throughput: { readonly outside: Throughput; readonly during: Throughput; readonly ratio: number | null };
  readonly messages: Integrity & {
    readonly received: number;
    readonly bytes: number;
    readonly rounds: number;
    readonly unbalanced: number;
  };
  readonly targets: readonly Target[];
}

export const SWITCH_P50_MS = 10;
export const UNLOAD_LOAD_P50_MS = 150;
export const MAX_PAUSE_MS = 50;

/** Nearest-rank percentile (a value that was measured), q in (0, 1]. */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const numbers = (values: ReadonlyArray<number | null>) => values.filter((v): v is number => v !== null);

function throughput(seconds: number, messages: number, bytes: number): Throughput {
  return { seconds, messages, bytes, msgsPerSec: seconds > 0 ? messages / seconds : 0, bytesPerSec: seconds > 0 ? bytes / seconds : 0 };
}

export function summarize(verbs: readonly Verb[], runs: readonly VerbRun[], order: StopOrder, ranks: readonly RankReport[]): Summary {
  const labels = verbs.map((v) => describeVerb(v));
  const names = [...new Set(labels)];
  const [spanStart, spanEnd] = order.span;
  const clipped = (run: VerbRun) => Math.max(0, Math.min(run.end, spanEnd) - Math.max(run.start, spanStart));

  const verbSummaries = names.map((name): VerbSummary => {
    const indices = labels.flatMap((l, i) => (l === name ? [i] : []));
    const mine = runs.filter((r) => indices.includes(r.index));
    const ms = mine.map((r) => r.ms);
    let pause: VerbSummary['longestPause'] = null;
    let block: VerbSummary['longestBlock'] = null;
    let messages = 0;
    let bytes = 0;
    for (const rank of ranks) {
      for (const i of indices) {
        const flow = rank.perVerb[i];
        if (!flow) continue;
        messages += flow.messages;
        bytes += flow.bytes;
        if (flow.longestPause && (!pause || flow.longestPause.ms > pause.ms))
          pause = { ms: flow.longestPause.ms, rank: rank.rank, cycle: flow.longestPause.cycle };
        if (flow.longestBlock && (!block || flow.longestBlock.ms > block.ms))
          block = { ms: flow.longestBlock.ms, rank: rank.rank, cycle: flow.longestBlock.cycle };
      }
    }
    const seconds = mine.reduce((s, r) => s + clipped(r), 0) / 1000;
    return {
      verb: name,
      count: mine.length,
      failed: mine.filter((r) => r.outcome !== 'done').length,
      p50: percentile(ms, 0.5),
      p99: percentile(ms, 0.99),
      max: ms.length ? Math.max(...ms) : NaN,
      mean: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : NaN,
      phases: {
        prepare: percentile(numbers(mine.map((r) => r.prepareMs)), 0.5),
        commit: percentile(numbers(mine.map((r) => r.commitMs)), 0.5),
        rankCommit: percentile(numbers(mine.map((r) => r.rankCommitMs)), 0.5),
      },
      longestPause: pause,
      longestBlock: block,
      during: throughput(seconds, messages, bytes),
    };
  });

  const longest = longestOf(ranks, runs, (r) => r.longestPause);
  const longestBlock = longestOf(ranks, runs, (r) => r.longestBlock);
  const longestPauseBetween = longestOf(ranks, [], (r) => r.longestPauseBetween);

  const insideSeconds = runs.reduce((s, r) => s + clipped(r), 0) / 1000;
  const spanSeconds = Math.max(0, spanEnd - spanStart) / 1000;
  const sum = (f: (r: RankReport) => number) => ranks.reduce((s, r) => s + f(r), 0);
  const during = throughput(insideSeconds, sum((r) => r.inside.messages), sum((r) => r.inside.bytes));
  const outside = throughput(spanSeconds - insideSeconds, sum((r) => r.outside.messages), sum((r) => r.outside.bytes));

  const messages = messageTotals(ranks);

  return {
    verbs: verbSummaries,
    longestPause: longest,
    longestPauseBetween,
    longestBlock,
    throughput: { outside, during, ratio: outside.msgsPerSec > 0 && during.seconds > 0 ? during.msgsPerSec / outside.msgsPerSec : null },
    messages,
    targets: targets(verbs, runs, longest, messages),
  };
}

/**
 * What every rank received, summed, with its integrity; `unbalanced` counts messages missing or
 * extra against the rounds (iterations are lockstep, the stop agreed by an allreduce: every rank
 * got `rounds` from each peer).
 */
export function messageTotals(ranks: readonly RankReport[]): Summary['messages'] {
  const sum = (f: (r: RankReport) => number) => ranks.reduce((s, r) => s + f(r), 0);
  const rounds = ranks.length ? Math.max(...ranks.map((r) => r.rounds)) : 0;
  let unbalanced = 0;
  for (const r of ranks) r.received.forEach((n, peer) => peer !== r.rank && n !== rounds && (unbalanced += Math.abs(rounds - n)));
  return {
    received: sum((r) => r.messages),
    bytes: sum((r) => r.bytes),
    rounds,
    lost: sum((r) => r.integrity.lost),
    duplicates: sum((r) => r.integrity.duplicates),
    reordered: sum((r) => r.integrity.reordered),
    corrupt: sum((r) => r.integrity.corrupt),
    unbalanced,
  };
}

/** The longest of every rank's `pick`, with the verb run it overlapped most, if any. */
function longestOf(ranks: readonly RankReport[], runs: readonly VerbRun[], pick: (r: RankReport) => Pause | null): LongestPause | null {
  let longest: LongestPause | null = null;
  for (const rank of ranks) {
    const p = pick(rank);
    if (p && (!longest || p.ms > longest.ms)) longest = { ms: p.ms, rank: rank.rank, from: p.from, to: p.to, verb: null, cycle: null };
  }
  if (!longest) return null;
  let best = 0;
  for (const r of runs) {
    const overlap = Math.min(r.end, longest.to) - Math.max(r.start, longest.from);
    if (overlap > best) {
      best = overlap;
      longest = { ...longest, verb: r.verb, cycle: r.cycle };
    }
  }
  return longest;
}

function targets(verbs: readonly Verb[], runs: readonly VerbRun[], longest: LongestPause | null, messages: Summary['messages']): Target[] {
  const timesOf = (match: (v: Verb) => boolean) => {
    const indices = new Set(verbs.flatMap((v, i) => (match(v) ? [i] : [])));
    return runs.filter((r) => indices.has(r.index) && r.outcome === 'done').map((r) => r.ms);
  };
  const out: Target[] = [];
  const switches = timesOf((v) => v.verb === 'switch');
  const switchP50 = switches.length ? percentile(switches, 0.5) : null;
  out.push({
    name: `switch p50 under ${SWITCH_P50_MS} ms`,
    value: switchP50,
    limit: SWITCH_P50_MS,
    unit: 'ms',
    pass: switchP50 === null ? null : switchP50 < SWITCH_P50_MS,
    required: false,
  });
  const btls = [
    ...new Set(verbs.flatMap((v) => (v.verb === 'unload' && verbs.some((w) => w.verb === 'load' && w.btl === v.btl) ? [v.btl] : []))),
  ];
  if (!btls.length)
    out.push({
      name: `unload + load p50 under ${UNLOAD_LOAD_P50_MS} ms`,
      value: null,
      limit: UNLOAD_LOAD_P50_MS,
      unit: 'ms',
      pass: null,
      required: false,
    });
  for (const btl of btls) {
    const unload = timesOf((v) => v.verb === 'unload' && v.btl === btl);
    const load = timesOf((v) => v.verb === 'load' && v.btl === btl);
    const value = unload.length && load.length ? percentile(unload, 0.5) + percentile(load, 0.5) : null;
    out.push({
      name: `unload + load ${btl} p50 under ${UNLOAD_LOAD_P50_MS} ms`,
      value,
      limit: UNLOAD_LOAD_P50_MS,
      unit: 'ms',
      pass: value === null ? null : value < UNLOAD_LOAD_P50_MS,
      required: false,
    });
  }
  out.push({
    name: `no pause longer than ${MAX_PAUSE_MS} ms`,
    value: longest?.ms ?? null,
    limit: MAX_PAUSE_MS,
    unit: 'ms',
    pass: longest ? longest.ms <= MAX_PAUSE_MS : null,
    required: false,
  });
  const bad = messages.lost + messages.duplicates + messages.reordered + messages.corrupt + messages.unbalanced;
  out.push({
    name: 'zero loss (lost, duplicated, reordered, damaged)',
    value: bad,
    limit: 0,
    unit: 'messages',
    pass: bad === 0,
    required: true,
  });
  return out;
}
