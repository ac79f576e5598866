/**
 * When a run has warmed up for a phase. Each run is judged on its own clock: the runs of a mode
 * take turns and a run compiles only while it runs, so a warm-up time shared by seven runs left
 * each about 40 ms of a size's 0.3 s, and the size after a change of protocol (1 B after 0 B, the
 * first rendezvous size) was timed while its new paths were still being compiled.
 */

/** Warm-up steps each run takes at least (each is 10% of the phase's count). */
export const WARMUP_ROUNDS = 10;
/** A run's own warm-up time for the first size of a mode (its JIT compiles everything), ms. */
export const FIRST_WARMUP_MS = 1_000;
/** A run's own warm-up time for every next size, ms. */
export const WARMUP_MS = 200;
/** A run that keeps getting faster stops warming up after this much of its own time, ms. */
export const WARMUP_CAP_MS = 2_000;
/** Steps compared at each end: the last ones against the ones before. */
const STEADY_STEPS = 3;
/** The last steps are steady when they are no more than this much faster than the ones before. */
const STEADY_GAIN = 0.1;

export class WarmUp {
  readonly #steps: number[] = [];
  #ownMs = 0;

  constructor(readonly minMs: number) {}

  /** One warm-up step: what it measured, and how long it held the turn. */
  record(stepMs: number, turnMs: number): void {
    this.#steps.push(stepMs);
    this.#ownMs += turnMs;
  }

  get done(): boolean {
    if (this.#steps.length < WARMUP_ROUNDS || this.#ownMs < this.minMs) return false;
    return this.#ownMs >= WARMUP_CAP_MS || this.#steady();
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
