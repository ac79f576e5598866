import type { OnReadOpts } from 'node:net';

/** Reads of at least this many payload bytes go straight into the receive buffer. */
const DIRECT_MIN = 16 * 1024;
const STAGING_SIZE = 64 * 1024;

/**
 * The receiving half of the raw baseline's framing (4-byte LE length + payload), as
 * the raw baseline's Node TCP (docs/performance.md): every payload ends up in one preallocated receive buffer; large
 * payloads are read by the kernel directly into it (socket `onread` with a buffer generator),
 * headers and small payloads come through a staging buffer. Counts whole frames; `until(n)`
 * resolves once `n` frames have arrived in all.
 */
export class FrameReader {
  /** Frames received since the start. */
  frames = 0;
  readonly #payload: Buffer;
  readonly #staging = Buffer.allocUnsafe(STAGING_SIZE);
  readonly #header = Buffer.alloc(4);
  #headerGot = 0;
  /** Length of the frame being read, -1 while reading a header. */
  #length = -1;
  #got = 0;
  #target = 0;
  #wake: (() => void) | null = null;
  readonly #busy: boolean;
  readonly #onFrame: ((payload: Buffer) => void) | undefined;
  #spinning = false;

  /**
   * @param capacity the largest payload expected
   * @param busy keep the event loop spinning (setImmediate chain) while waiting, instead of sleeping in epoll
   * @param onFrame sees each payload as it completes (checks; the view is valid only during the call)
   */
  constructor(capacity: number, busy: boolean, onFrame?: (payload: Buffer) => void) {
    this.#payload = Buffer.alloc(capacity);
    this.#busy = busy;
    this.#onFrame = onFrame;
  }

  /** The socket option that feeds this reader. */
  get onread(): OnReadOpts {
    return {
      buffer: () => this.#nextBuffer(),
      callback: (nread, buf) => {
        this.#onRead(nread, buf);
        return true;
      },
    };
  }

  /** Resolves when `target` frames have arrived since the start. */
  until(target: number): Promise<void> {
    if (this.frames >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.#target = target;
      this.#wake = resolve;
      if (this.#busy && !this.#spinning) {
        this.#spinning = true;
        setImmediate(this.#spin);
      }
    });
  }

  readonly #spin = (): void => {
    if (this.#wake) setImmediate(this.#spin);
    else this.#spinning = false;
  };

  #nextBuffer(): Uint8Array {
    if (this.#length >= 0 && this.#length - this.#got >= DIRECT_MIN) return this.#payload.subarray(this.#got, this.#length);
    return this.#staging;
  }

  #onRead(nread: number, buf: Uint8Array): void {
    if (buf !== this.#staging) {
      // A direct read: it never goes past the end of the current payload.
      this.#got += nread;
      if (this.#got === this.#length) this.#frameDone();
      return;
    }
    let off = 0;
    while (off < nread) {
      if (this.#length < 0) {
        let length: number;
        if (this.#headerGot === 0 && nread - off >= 4) {
          length = this.#staging.readUInt32LE(off);
          off += 4;
        } else {
          const n = Math.min(4 - this.#headerGot, nread - off);
          this.#staging.copy(this.#header, this.#headerGot, off, off + n);
          this.#headerGot += n;
          off += n;
          if (this.#headerGot < 4) return;
          this.#headerGot = 0;
          length = this.#header.readUInt32LE(0);
        }
        if (length > this.#payload.length)
          throw new Error(`raw bench: frame of ${length} bytes exceeds the receive buffer (${this.#payload.length})`);
        this.#length = length;
        this.#got = 0;
        if (length === 0) this.#frameDone();
      } else {
        const n = Math.min(this.#length - this.#got, nread - off);
        this.#staging.copy(this.#payload, this.#got, off, off + n);
        this.#got += n;
        off += n;
        if (this.#got === this.#length) this.#frameDone();
      }
    }
  }

  #frameDone(): void {
    this.#onFrame?.(this.#payload.subarray(0, this.#length));
    this.#length = -1;
    this.#got = 0;
    this.frames += 1;
    if (this.#wake && this.frames >= this.#target) {
      const wake = this.#wake;
      this.#wake = null;
      wake();
    }
  }
}
