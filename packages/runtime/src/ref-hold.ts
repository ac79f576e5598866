/** What can keep the event loop alive or not: a socket, a server, a timer. */
export interface Refable {
  ref(): unknown;
  unref(): unknown;
}

/** Keeps a handle ref'd only while something holds it (a count of holds), unref'd otherwise. */
export class RefHold {
  readonly #handle: Refable;
  #count = 0;

  constructor(handle: Refable) {
    this.#handle = handle;
  }

  hold(): void {
    if (this.#count++ === 0) this.#handle.ref();
  }

  release(): void {
    if (this.#count === 0) return;
    if (--this.#count === 0) this.#handle.unref();
  }

  /** Wraps an operation: the handle is held until `promise` settles. */
  async during<T>(promise: Promise<T>): Promise<T> {
    this.hold();
    try {
      return await promise;
    } finally {
      this.release();
    }
  }
}
