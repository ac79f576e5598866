/** A peer's first ring; it doubles while it is too small for what that peer leaves unacknowledged. */
export const RING_FIRST = 256 * 1024;
export const RING_MAX = 4 * 1024 * 1024;
const SMALL_COPY = 16;

/**
 * The copies of small eager messages to one peer, kept until the peer acknowledges them. A
 * peer acknowledges in the order the copies were made, so they are carved one after the other
 * out of a ring and given back by moving its tail: the same memory is reused, warm and already
 * mapped, where a fresh buffer per copy (or per slab) costs an allocation and page faults.
 * Positions grow without wrapping (a double counts exactly to 2^53); the index into the buffer
 * is the position modulo its size. A copy that does not fit while older ones are still kept
 * makes the ring double (up to RING_MAX; the older copies keep the old buffer alive until they
 * are released) or, at the maximum, gets a buffer of its own.
 */
export class KeepRing {
  #buffer: Buffer | undefined;
  #generation = 0;
  #head = 0;
  #tail = 0;

  /** The generation of the last copy (a grown ring starts a new one; -1: a buffer of its own). */
  lastGeneration = 0;
  /** The ring position just past the last copy: what `release` gives back up to. */
  lastEnd = 0;

  /** Copies `data` into the ring; `lastGeneration` and `lastEnd` then name the copy for `release`. */
  copy(data: Uint8Array): Uint8Array {
    const n = data.length;
    const size = this.#buffer?.length ?? 0;
    let at = this.#place(n, size);
    if (at < 0) {
      if (size >= RING_MAX || n > RING_MAX / 4) {
        this.lastGeneration = -1;
        return Buffer.from(data);
      }
      this.#buffer = Buffer.allocUnsafeSlow(size === 0 ? RING_FIRST : size * 2);
      this.#generation += 1;
      this.#head = this.#tail = 0;
      at = 0;
    }
    const buffer = this.#buffer!;
    const from = at % buffer.length;
    // A plain view (a Buffer's subarray costs more) and, for a few bytes, a loop instead of `set`.
    const view = new Uint8Array(buffer.buffer, buffer.byteOffset + from, n);
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) view[i] = data[i]!;
    else view.set(data);
    // 8-byte aligned, like Node's own pool.
    this.#head = at + ((n + 7) & ~7);
    this.lastGeneration = this.#generation;
    this.lastEnd = this.#head;
    return view;
  }

  /** The peer acknowledged the copy that ended at `end` and every copy made before it. */
  release(generation: number, end: number): void {
    if (generation === this.#generation && end > this.#tail) this.#tail = end;
  }

  /** Where `n` bytes go, or -1 when the ring has no room for them. */
  #place(n: number, size: number): number {
    if (size === 0) return -1;
    let at = this.#head;
    if (at === this.#tail) at = this.#head = this.#tail = 0;
    const offset = at % size;
    // A copy never wraps: the bytes left at the end are skipped.
    if (offset + n > size) at += size - offset;
    return at + n - this.#tail <= size ? at : -1;
  }
}
