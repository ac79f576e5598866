/**
 * A rank's message-flow timeline: the arrival time and size of every message it received, and
 * what the bench wants to know of it once the verbs' windows are known (the stop order).
 */
import type { Pause, RankReport, StopOrder, VerbFlow } from './plan.js';

/** The timeline bucket width for a span: 10 ms, wider when needed to keep at most `maxBuckets`. */
export function bucketWidth(spanMs: number, maxBuckets = 1000): number {
  const min = 10;
  return Math.max(min, Math.ceil(spanMs / maxBuckets / min) * min);
}

/** Arrival times and sizes, in arrival order, in growable typed arrays. */
export class FlowRecorder {
  #times = new Float64Array(1 << 14);
  #sizes = new Uint32Array(1 << 14);
  #count = 0;
  #bytes = 0;

  record(time: number, bytes: number): void {
    if (this.#count === this.#times.length) {
      const times = new Float64Array(this.#times.length * 2);
      times.set(this.#times);
      this.#times = times;
      const sizes = new Uint32Array(this.#sizes.length * 2);
      sizes.set(this.#sizes);
      this.#sizes = sizes;
    }
    this.#times[this.#count] = time;
    this.#sizes[this.#count] = bytes;
    this.#count++;
    this.#bytes += bytes;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The last arrival's time, or undefined before the first. */
  get last(): number | undefined {
    return this.#count ? this.#times[this.#count - 1] : undefined;
  }

  /** The flow against the stop order, with the event-loop blocks `blocks` saw. */
  analyse(order: StopOrder, blocks?: BlockRecorder): FlowAnalysis {
    return analyseFlow(this.#times.subarray(0, this.#count), this.#sizes.subarray(0, this.#count), order, blocks?.blocks);
  }
}

export type FlowAnalysis = Pick<
  RankReport,
  'inside' | 'outside' | 'longestPause' | 'longestPauseBetween' | 'longestBlock' | 'perVerb' | 'windowPauses' | 'timeline'
>;

/** Blocks shorter than this are not recorded. */
export const BLOCK_THRESHOLD_MS = 5;
const BLOCK_TICK_MS = 5;
const MAX_BLOCKS = 100_000;

/**
 * Watches the event loop: a timer every 5 ms; one that fires late by 5 ms or more marks a block
 * (from when it was due to when it ran). Unref'd: it never keeps the process alive.
 */
export class BlockRecorder {
  readonly #from: number[] = [];
  readonly #to: number[] = [];
  #timer: NodeJS.Timeout | undefined;

  start(now: () => number): void {
    let due = now() + BLOCK_TICK_MS;
    this.#timer = setInterval(() => {
      const t = now();
      if (t - due >= BLOCK_THRESHOLD_MS && this.#from.length < MAX_BLOCKS) {
        this.#from.push(due);
        this.#to.push(t);
      }
      due = t + BLOCK_TICK_MS;
    }, BLOCK_TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get blocks(): { readonly from: readonly number[]; readonly to: readonly number[] } {
    return { from: this.#from, to: this.#to };
  }
}

/**
 * Within the order's span: arrivals inside verb windows and outside them, the longest pause (gap
 * between consecutive arrivals) that overlaps the span, per verb of the cycle the arrivals in its
 * windows and the longest pause overlapping one of them, and arrivals per timeline bucket.
 * `times` must be in non-decreasing order (they are recorded as they happen); windows in order.
 */
export function analyseFlow(
  times: ArrayLike<number>,
  sizes: ArrayLike<number>,
  order: StopOrder,
  blocks: { readonly from: ArrayLike<number>; readonly to: ArrayLike<number> } = { from: [], to: [] },
): FlowAnalysis {
  const [spanStart, spanEnd] = order.span;
  const windows = order.windows;
  const inside = { messages: 0, bytes: 0 };
  const outside = { messages: 0, bytes: 0 };
  const perVerb = Array.from({ length: order.verbs }, () => ({
    messages: 0,
    bytes: 0,
    longestPause: null as VerbFlow['longestPause'],
    longestBlock: null as VerbFlow['longestBlock'],
  }));
  const firstBucket = Math.floor(spanStart / order.bucketMs);
  const timeline = new Array<number>(Math.max(0, Math.floor(spanEnd / order.bucketMs) - firstBucket + 1)).fill(0);

  // Arrivals: w walks the windows, the first one not yet ended at time t.
  let w = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t < spanStart || t > spanEnd) continue;
    while (w < windows.length && windows[w]!.end < t) w++;
    const win = windows[w];
    const bytes = sizes[i]!;
    if (win && win.start <= t) {
      inside.messages++;
      inside.bytes += bytes;
      const v = perVerb[win.verb];
      if (v) {
        v.messages++;
        v.bytes += bytes;
      }
    } else {
      outside.messages++;
      outside.bytes += bytes;
    }
    timeline[Math.floor(t / order.bucketMs) - firstBucket]!++;
  }

  // Pauses: the gaps between consecutive arrivals.
  const windowPauses = new Array<Pause | null>(windows.length).fill(null);
  const { longest: longestPause, between: longestPauseBetween } = longestIntervals(
    { length: Math.max(0, times.length - 1), from: (i) => times[i]!, to: (i) => times[i + 1]! },
    order,
    (verb, p, k) => {
      const v = perVerb[verb];
      if (v && (!v.longestPause || p.ms > v.longestPause.ms)) v.longestPause = p;
      const w = windowPauses[k];
      if (!w || p.ms > w.ms) windowPauses[k] = { ms: p.ms, from: p.from, to: p.to };
    },
  );
  const { longest: longestBlock } = longestIntervals(
    { length: blocks.from.length, from: (i) => blocks.from[i]!, to: (i) => blocks.to[i]! },
    order,
    (verb, p) => {
      const v = perVerb[verb];
      if (v && (!v.longestBlock || p.ms > v.longestBlock.ms)) v.longestBlock = p;
    },
  );
  return { inside, outside, longestPause, longestPauseBetween, longestBlock, perVerb, windowPauses, timeline };
}

/**
 * The longest of intervals (in order of their start) that overlap the span, and the longest that
 * overlaps no verb's window; `onWindow` is offered each one that overlaps a verb's window, with
 * the window's cycle and index.
 */
function longestIntervals(
  intervals: { readonly length: number; from(i: number): number; to(i: number): number },
  order: StopOrder,
  onWindow: (verb: number, pause: Pause & { cycle: number }, window: number) => void,
): { longest: Pause | null; between: Pause | null } {
  const [spanStart, spanEnd] = order.span;
  const windows = order.windows;
  let longest: Pause | null = null;
  let between: Pause | null = null;
  // g walks the windows: the first one that ends after the interval starts.
  let g = 0;
  for (let i = 0; i < intervals.length; i++) {
    const from = intervals.from(i);
    const to = intervals.to(i);
    if (to <= spanStart || from >= spanEnd) continue;
    const ms = to - from;
    if (!longest || ms > longest.ms) longest = { ms, from, to };
    while (g < windows.length && windows[g]!.end <= from) g++;
    let inWindow = false;
    for (let k = g; k < windows.length && windows[k]!.start < to; k++) {
      const win = windows[k]!;
      inWindow = true;
      onWindow(win.verb, { ms, from, to, cycle: win.cycle }, k);
    }
    if (!inWindow && (!between || ms > between.ms)) between = { ms, from, to };
  }
  return { longest, between };
}
