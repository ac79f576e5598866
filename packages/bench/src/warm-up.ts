/**
 * When a run has warmed up for a phase. Each run is judged on its own clock: the runs of a mode
 * take turns and a run compiles only while it runs, so a warm-up time shared by seven runs left
 * each about 40 ms of a size's 0.3 s, and the size after a change of protocol (1 B after 0 B, the
 * first rendezvous size) was timed while its new paths were still being compiled.
 */

/** Warm-up steps each run takes at least, unless WARMUP_CAP_MS ends it first (each is 10% of the phase's count at the default scale). */
export const WARMUP_ROUNDS = 10;
/** A run's own warm-up time for the first size of a mode (its JIT compiles everything), ms. */
export const FIRST_WARMUP_MS = 1_000;
/** A run's own warm-up time for every next size, ms. */
export const WARMUP_MS = 200;
/**
 * Messages of the size a run's warm-up takes at least (round trips, or sends in windows). V8
 * optimizes a function once it has run enough, and the path of a message runs once per message:
 * a 256 KiB ping-pong (the first rendezvous size) took 2,500-3,000 round trips to reach its steady
 * time, falling by a factor of 3-6 on the way, on every transport, raw sockets too; a warm-up of
 * 0.2 s saw a few hundred of them.
 */
export const WARMUP_MESSAGES = 4_000;
/** A run stops warming up after this much of its own time, ms, whatever its steps and messages so far. */
export const WARMUP_CAP_MS = 2_000;
/** Steps compared at each end: the last ones against the ones before. */
const STEADY_STEPS = 3;
/** The last steps are steady when they are no more than this much faster than the ones before. */
const STEADY_GAIN = 0.1;

export class WarmUp {
  readonly #steps: number[] = [];
  #ownMs = 0;
  #messages = 0;

  /** `messagesPerStep`: how many messages of the size one step sends. */
  constructor(
    readonly minMs: number,
    readonly messagesPerStep: number,
    readonly minMessages = WARMUP_MESSAGES,
  ) {}

  /** One warm-up step: what it measured, and how long it held the turn. */
  record(stepMs: number, turnMs: number): void {
    this.#steps.push(stepMs);
    this.#ownMs += turnMs;
    this.#messages += this.messagesPerStep;
  }

  get done(): boolean {
    // The cap comes first: a slow transport's 10 steps must not hold the bench for minutes.
    if (this.#ownMs >= WARMUP_CAP_MS) return true;
    if (this.#steps.length < WARMUP_ROUNDS || this.#ownMs < this.minMs) return false;
    return this.#messages >= this.minMessages && this.#steady();
  }

  /** The median of the last steps is not faster than the median of the ones before by more than STEADY_GAIN. */
  #steady(): boolean {
    const n = this.#steps.length;
    if (n < 2 * STEADY_STEPS) return false;
    const last = median(this.#steps.slice(n - STEADY_STEPS));
    const before = median(this.#steps.slice(n - 2 * STEADY_STEPS, n - STEADY_STEPS));
    return last >= before * (1 - STEADY_GAIN);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
