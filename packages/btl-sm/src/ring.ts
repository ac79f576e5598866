import { R_HEAD, R_TAIL, R_WAITING, RECORD_HEADER, RING_CONTROL_BYTES, WRAP, recordBytes } from './layout.js';

/**
 * One single-producer single-consumer ring in a segment. head and tail are free-running 32-bit
 * counters (compared modulo 2^32); only the producer stores head, only the consumer stores tail,
 * each with a sequentially consistent Atomics.store after the bytes it covers, so the other side
 * never reads a record before its bytes are there, nor overwrites one still being read.
 */
export class Ring {
  readonly #control: Int32Array;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #size: number;
  readonly #mask: number;
  /**
   * The producer's last reading of tail: the consumer stores tail on every record, so reading it
   * costs a cache line fetched from the other core. Only a write that finds no room by this
   * reading reads it again.
   */
  #tailSeen: number;

  /**
   * The ring whose control block starts at byte `base` of `buffer` (RING_CONTROL_BYTES, then
   * `fifoSize` bytes). `plain` is the same memory as a plain ArrayBuffer (the addon's
   * plainBuffer): records are copied through it at memcpy speed, where a copy to or from the
   * SharedArrayBuffer goes byte by byte whenever the two sides differ in alignment.
   */
  constructor(buffer: SharedArrayBuffer, plain: ArrayBufferLike, base: number, fifoSize: number) {
    this.#control = new Int32Array(buffer, base, RING_CONTROL_BYTES / 4);
    this.#words = new Int32Array(buffer, base + RING_CONTROL_BYTES, fifoSize / 4);
    this.#bytes = new Uint8Array(plain, base + RING_CONTROL_BYTES, fifoSize);
    this.#size = fifoSize;
    this.#mask = fifoSize - 1;
    this.#tailSeen = Atomics.load(this.#control, R_TAIL);
  }

  // --- producer side ---

  /** Copies the fragment in; false when there is no room for it now. */
  write(tag: number, segments: readonly Uint8Array[], bytes: number): boolean {
    const need = recordBytes(bytes);
    const head = Atomics.load(this.#control, R_HEAD);
    let pos = head & this.#mask;
    // A record is contiguous, so the receiver can hand up a view of it: skip the ring's end.
    const skip = pos + need > this.#size ? this.#size - pos : 0;
    if (!this.#hasRoom(skip + need, head)) return false;
    if (skip) {
      this.#words[pos >> 2] = WRAP;
      pos = 0;
    }
    this.#words[pos >> 2] = bytes;
    this.#words[(pos >> 2) + 1] = tag;
    let at = pos + RECORD_HEADER;
    for (const s of segments) {
      this.#bytes.set(s, at);
      at += s.length;
    }
    Atomics.store(this.#control, R_HEAD, (head + skip + need) | 0);
    return true;
  }

  /** Whether a record of `bytes` would fit now (a consumer that must answer checks before it takes a request). */
  fits(bytes: number): boolean {
    const need = recordBytes(bytes);
    const head = Atomics.load(this.#control, R_HEAD);
    const pos = head & this.#mask;
    const skip = pos + need > this.#size ? this.#size - pos : 0;
    return this.#hasRoom(skip + need, head);
  }

  /** Whether `wanted` bytes are free before `head` reaches the consumer's tail: as last read, else read again. */
  #hasRoom(wanted: number, head: number): boolean {
    if (wanted <= this.#size - ((head - this.#tailSeen) >>> 0)) return true;
    this.#tailSeen = Atomics.load(this.#control, R_TAIL);
    return wanted <= this.#size - ((head - this.#tailSeen) >>> 0);
  }

  /** Says (before a last retry) that the producer waits for room. */
  setWaiting(): void {
    Atomics.store(this.#control, R_WAITING, 1);
  }

  // --- consumer side ---

  /** True when a record is there to read. */
  get pending(): boolean {
    return Atomics.load(this.#control, R_HEAD) !== Atomics.load(this.#control, R_TAIL);
  }

  /**
   * Hands every record present to `deliver` as a view into the ring (valid only during the call),
   * freeing each one after its call. Returns how many it delivered. `more`, when given, is asked
   * before each record: false leaves the rest in the ring (a consumer whose answers have no room).
   */
  drain(deliver: (tag: number, data: Uint8Array) => void, more?: () => boolean): number {
    let tail = Atomics.load(this.#control, R_TAIL);
    let head = Atomics.load(this.#control, R_HEAD);
    let count = 0;
    while (tail !== head) {
      const pos = tail & this.#mask;
      const length = this.#words[pos >> 2]!;
      if (length === WRAP) {
        tail = (tail + this.#size - pos) | 0;
        Atomics.store(this.#control, R_TAIL, tail);
        continue;
      }
      if (more && !more()) break;
      const tag = this.#words[(pos >> 2) + 1]!;
      const start = pos + RECORD_HEADER;
      try {
        deliver(tag, this.#bytes.subarray(start, start + length));
      } finally {
        tail = (tail + recordBytes(length)) | 0;
        Atomics.store(this.#control, R_TAIL, tail);
      }
      count += 1;
      if (tail === head) head = Atomics.load(this.#control, R_HEAD);
    }
    return count;
  }

  /** After making room: true once per wait of the producer (who must then be rung). */
  takeWaiting(): boolean {
    return Atomics.load(this.#control, R_WAITING) !== 0 && Atomics.compareExchange(this.#control, R_WAITING, 1, 0) === 1;
  }
}
