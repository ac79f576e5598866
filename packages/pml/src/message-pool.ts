/** Messages up to this size are carved out of a shared slab; larger ones get a buffer of their own. */
export const POOLED_MAX = 64 * 1024;
/** Size of one slab. */
export const SLAB_SIZE = 512 * 1024;
/** Up to this many bytes a loop copies faster than making a view for `set`. */
const SMALL_COPY = 32;

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
    const size = data.length - offset;
    const out = this.take(size);
    if (size <= SMALL_COPY) {
      for (let i = 0; i < size; i++) out[i] = data[offset + i]!;
    } else {
      out.set(offset === 0 ? data : data.subarray(offset));
    }
    return out;
  }
}
