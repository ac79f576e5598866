/** Messages up to this size are carved out of a shared slab; larger ones get a buffer of their own. */
export const POOLED_MAX = 64 * 1024;
/** Size of one slab. */
export const SLAB_SIZE = 512 * 1024;
/** Up to this many bytes a loop copies faster than making a view for `set`. */
const SMALL_COPY = 32;
/** Messages held only until a receive copies them out come from reused buffers from this size... */
export const SPARE_MIN = 4 * 1024;
/** ...up to this size... */
export const SPARE_MAX = 8 * 1024 * 1024;
/** ...and up to this many bytes of them are kept in all. */
export const SPARE_BYTES = 16 * 1024 * 1024;

/**
 * Where received messages are copied to (the application owns them from then on). Allocating an
 * ArrayBuffer per message costs about a microsecond and churns malloc; small and medium
 * messages are instead carved, 8-byte aligned, out of a large slab, the way Node's own Buffer
 * pool serves small Buffers: a message is a view (`byteOffset` may be non-zero and `buffer` is
 * shared with other messages), and a slab is freed once no message of it is referenced.
 */
export class MessagePool {
  #slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  #offset = 0;

  /** An uninitialised buffer of `size` bytes for the application. */
  take(size: number): Buffer {
    if (size > POOLED_MAX) return Buffer.allocUnsafeSlow(size);
    if (this.#offset + size > SLAB_SIZE) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.#offset = 0;
    }
    const at = this.#offset;
    this.#offset = (at + size + 7) & ~7;
    return this.#slab.subarray(at, at + size);
  }

  /** A copy of `data` from `offset` on, owned by the caller. */
  copy(data: Uint8Array, offset: number): Buffer {
    return fill(this.take(data.length - offset), data, offset);
  }

  /**
   * A copy of `data` from `offset` on for a message that waits for its receive (see `recycle`).
   * From SPARE_MIN up it is a buffer used before: fresh memory costs a page fault per 4 KiB on
   * first touch, and on this project's virtual machines a 256 KiB copy into a new buffer took
   * 30-180 µs against 3 µs into one used before. A ping-pong whose receives were posted after
   * the message came (the plain recv-then-send loop) spent up to a millisecond a message there.
   */
  hold(data: Uint8Array, offset: number): Buffer {
    const size = data.length - offset;
    return size < SPARE_MIN || size > SPARE_MAX ? this.copy(data, offset) : fill(this.#spare(size), data, offset);
  }

  /** `size` bytes of a spare buffer, or of a new one that becomes a spare once recycled. */
  #spare(size: number): Buffer {
    const capacity = 2 ** Math.ceil(Math.log2(size));
    let whole = this.#spares.get(capacity)?.pop();
    if (whole) this.#spareBytes -= capacity;
    else this.#fromSpares.add((whole = Buffer.allocUnsafeSlow(capacity)).buffer);
    return whole.subarray(0, size);
  }

  /**
   * Takes back what `hold` gave, once nothing refers to it any more (its receive copied it out).
   * Anything else is left alone: a message the application received is the application's.
   */
  recycle(held: Uint8Array): void {
    const capacity = held.buffer.byteLength;
    if (!this.#fromSpares.has(held.buffer) || this.#spareBytes + capacity > SPARE_BYTES) return;
    let list = this.#spares.get(capacity);
    if (!list) this.#spares.set(capacity, (list = []));
    list.push(Buffer.from(held.buffer, 0, capacity));
    this.#spareBytes += capacity;
  }

  /** Buffers `hold` may reuse, by capacity (a power of two), and their bytes in all. */
  readonly #spares = new Map<number, Buffer[]>();
  #spareBytes = 0;
  /** Every buffer `hold` allocated: only those are recycled. */
  readonly #fromSpares = new WeakSet<ArrayBufferLike>();
}

/** Copies `data` from `offset` on into `out` (exactly that long) and returns `out`. */
function fill(out: Buffer, data: Uint8Array, offset: number): Buffer {
  const size = out.length;
  if (size <= SMALL_COPY) {
    for (let i = 0; i < size; i++) out[i] = data[offset + i]!;
  } else {
    out.set(offset === 0 ? data : data.subarray(offset));
  }
  return out;
}
