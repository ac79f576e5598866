import type { SmAddon } from './native.js';

/** A copy for the thread pool, and what to do once it ran. */
export interface OffloadedCopy {
  readonly write: boolean;
  readonly pid: number;
  readonly address: bigint;
  readonly local: Uint8Array;
  /** Asked just before the copy runs: an error (the peer released the memory meanwhile) skips it. */
  readonly check: () => Error | undefined;
  readonly done: (error: Error | null) => void;
}

/**
 * Large single copies, run on libuv's thread pool one at a time, each split into `pieces` parts
 * side by side. One at a time: the copies complete in the order they were asked for (as they
 * did on the event loop), and a burst of them (a window of large messages) does not put every
 * pool thread on copies that fight for the same cores and cache lines.
 */
export class OffloadQueue {
  readonly #addon: SmAddon;
  readonly #pieces: number;
  readonly #queue: OffloadedCopy[] = [];
  #head = 0;
  #running = false;
  #idle: (() => void) | undefined;

  constructor(addon: SmAddon, pieces: number) {
    this.#addon = addon;
    this.#pieces = pieces;
  }

  add(copy: OffloadedCopy): void {
    this.#queue.push(copy);
    if (!this.#running) this.#next();
  }

  /** Resolves once no copy is queued or running (finalize: they write into memory others own). */
  drained(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#idle;
      this.#idle = () => {
        before?.();
        resolve();
      };
    });
  }

  #next(): void {
    const copy = this.#queue[this.#head];
    if (!copy) {
      this.#queue.length = 0;
      this.#head = 0;
      this.#running = false;
      const idle = this.#idle;
      this.#idle = undefined;
      idle?.();
      return;
    }
    this.#queue[this.#head++] = undefined as unknown as OffloadedCopy;
    this.#running = true;
    const refused = copy.check();
    if (refused) {
      try {
        copy.done(refused);
      } finally {
        this.#next();
      }
      return;
    }
    this.#addon.cmaAsync(copy.write, copy.pid, copy.address, copy.local, this.#pieces, (error) => {
      try {
        copy.done(error);
      } finally {
        this.#next();
      }
    });
  }
}
