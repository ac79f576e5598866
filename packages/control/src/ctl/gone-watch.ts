import { isProcessRunning } from '@switchyard/runtime';
import type { RankStatus } from '../protocol.js';

/** How often the ranks' pids are looked at while CRIU holds the job. */
const LOOK_EVERY_MS = 5;

/**
 * The first ranks of a job seen gone while CRIU dumps it. A rank killed meanwhile is the cause of
 * a failed dump; the launcher then stops the others, so only the first look that finds any says
 * which rank it was.
 */
export class GoneWatch {
  readonly #ranks: readonly RankStatus[];
  readonly #timer: NodeJS.Timeout;
  #first: RankStatus[] = [];

  constructor(ranks: readonly RankStatus[]) {
    this.#ranks = ranks;
    this.#timer = setInterval(() => this.#look(), LOOK_EVERY_MS);
  }

  /** Stops watching; the ranks first seen gone (looked at once more if none were). */
  stop(): readonly RankStatus[] {
    clearInterval(this.#timer);
    this.#look();
    return this.#first;
  }

  #look(): void {
    if (!this.#first.length) this.#first = this.#ranks.filter((r) => !isProcessRunning(r.pid));
  }
}
