import { R_HEAD, R_TAIL, R_WAITING, RECORD_HEADER, RING_CONTROL_BYTES, WRAP, recordBytes } from './layout.js';

const SMALL_COPY = 16;

/**
 * One single-producer single-consumer ring in a segment. head and tail are free-running 32-bit
 * counters (compared modulo 2^32); only the producer stores head, only the consumer stores tail
 * (with a sequentially consistent Atomics.store after the record it frees, so the producer never
 * overwrites one still being read).
 *
 * The consumer does not read head: it polls the header word of the next record itself, as
 * vader's fast boxes poll their sequence word. A record is published by storing its header word
 * last (Atomics.store, after its bytes), and the producer zeroes the next record's header word
 * before it publishes this one, so the word the consumer polls is 0 until a record is there. A
 * message then moves the cache lines of its record between the cores, not also those of head.
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
  /** The consumer's own tail (only it stores tail). */
  #tail: number;
  /** The producer's own head (only it stores and reads head). */
  #head: number;

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
    this.#tail = this.#tailSeen;
    this.#head = Atomics.load(this.#control, R_HEAD);
  }

  // --- producer side ---

  /** Copies the fragment in; false when there is no room for it now. */
  write(tag: number, segments: readonly Uint8Array[], bytes: number): boolean {
    const need = recordBytes(bytes);
    const head = this.#head;
    const at = head & this.#mask;
    // A record is contiguous, so the receiver can hand up a view of it: skip the ring's end.
    const skip = at + need > this.#size ? this.#size - at : 0;
    // The record, and the header word after it, which is zeroed before the record is published.
    if (!this.#hasRoom(skip + need + RECORD_HEADER, head)) return false;
    const pos = skip ? 0 : at;
    const words = this.#words;
    words[((pos + need) & this.#mask) >> 2] = 0;
    words[(pos >> 2) + 1] = tag;
    let to = pos + RECORD_HEADER;
    const into = this.#bytes;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      const n = s.length;
      // A loop beats `set` for a few bytes (the PML's header, a small payload).
      if (n <= SMALL_COPY) for (let j = 0; j < n; j++) into[to + j] = s[j]!;
      else into.set(s, to);
      to += n;
    }
    // Published by the header word: the consumer polls it at its tail (a wrap's at its end, after the record at 0).
    Atomics.store(words, pos >> 2, bytes + 1);
    if (skip) Atomics.store(words, at >> 2, WRAP);
    // Only the producer reads head (kept in a field): the shared word is for whoever inspects the segment.
    this.#head = (head + skip + need) | 0;
    this.#control[R_HEAD] = this.#head;
    return true;
  }

  /** Whether a record of `bytes` would fit now (a consumer that must answer checks before it takes a request). */
  fits(bytes: number): boolean {
    const need = recordBytes(bytes);
    const head = this.#head;
    const at = head & this.#mask;
    const skip = at + need > this.#size ? this.#size - at : 0;
    return this.#hasRoom(skip + need + RECORD_HEADER, head);
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
    return Atomics.load(this.#words, (this.#tail & this.#mask) >> 2) !== 0;
  }

  /**
   * Hands every record present to `deliver` as a view into the ring (valid only during the call),
   * freeing each one after its call. Returns how many it delivered. `more`, when given, is asked
   * before each record: false leaves the rest in the ring (a consumer whose answers have no room).
   */
  drain(deliver: (tag: number, data: Uint8Array) => void, more?: () => boolean): number {
    let count = 0;
    for (;;) {
      const pos = this.#tail & this.#mask;
      const word = Atomics.load(this.#words, pos >> 2);
      if (word === 0) break;
      if (word === WRAP) {
        this.#free(this.#size - pos);
        continue;
      }
      if (more && !more()) break;
      const length = word - 1;
      const tag = this.#words[(pos >> 2) + 1]!;
      const start = pos + RECORD_HEADER;
      try {
        deliver(tag, this.#bytes.subarray(start, start + length));
      } finally {
        this.#free(recordBytes(length));
      }
      count += 1;
    }
    return count;
  }

  #free(bytes: number): void {
    this.#tail = (this.#tail + bytes) | 0;
    Atomics.store(this.#control, R_TAIL, this.#tail);
  }

  /** After making room: true once per wait of the producer (who must then be rung). */
  takeWaiting(): boolean {
    return Atomics.load(this.#control, R_WAITING) !== 0 && Atomics.compareExchange(this.#control, R_WAITING, 1, 0) === 1;
  }
}
