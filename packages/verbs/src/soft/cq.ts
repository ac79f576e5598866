import type { CompletionQueue, WorkCompletion } from '../types.js';

/** What a soft CQ needs from its device: holding the event loop open while the CQ is ref'd. */
export interface LoopHold {
  hold(delta: 1 | -1): void;
}

/** CQs with completions queued: a shared-memory poll turn delivers them before it returns. */
const due = new Set<SoftCq>();

/**
 * Hands every CQ's queued completions to its callback now. Called by the device's poller at the
 * end of a turn (never from a post call), so a completion costs no extra loop turn; the
 * setImmediate each CQ scheduled then finds nothing.
 */
export function deliverDueCompletions(): void {
  if (due.size === 0) return;
  const cqs = [...due];
  due.clear();
  for (const cq of cqs) cq.deliver();
}

/**
 * A completion queue: completions are queued as the provider produces them and handed to the
 * callback in one batch from a later macrotask (setImmediate), like the native provider does
 * from its channel fd. Never synchronously from a post call: a consumer that posts from its
 * completion callback must not re-enter it.
 */
export class SoftCq implements CompletionQueue {
  /** QPs using it: destroy refuses while any exists (EBUSY). */
  users = 0;
  #pending: WorkCompletion[] = [];
  #scheduled = false;
  #refed = true;
  #destroyed = false;

  constructor(
    readonly depth: number,
    private readonly onCompletions: (wcs: WorkCompletion[]) => void,
    private readonly loop: LoopHold,
    private readonly onDestroy: (cq: SoftCq) => void,
  ) {
    loop.hold(1);
  }

  push(wc: WorkCompletion): void {
    if (this.#destroyed) return;
    this.#pending.push(wc);
    due.add(this);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.deliver();
      });
    }
  }

  /** Hands the queued completions to the callback (from a later macrotask, or the poller's turn). */
  deliver(): void {
    due.delete(this);
    if (this.#destroyed || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.onCompletions(batch);
  }

  ref(): void {
    if (!this.#refed && !this.#destroyed) {
      this.#refed = true;
      this.loop.hold(1);
    }
  }

  unref(): void {
    if (this.#refed && !this.#destroyed) {
      this.#refed = false;
      this.loop.hold(-1);
    }
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Validation (EBUSY) is the context's job; this releases. */
  release(): void {
    if (this.#destroyed) return;
    this.unref();
    this.#destroyed = true;
    this.#pending = [];
    due.delete(this);
  }

  destroy(): void {
    this.onDestroy(this);
  }
}
