import type { OnReadOpts } from 'node:net';
import { FRAME_HEADER_SIZE as HEADER_SIZE, FrameError, type FrameFormat } from './frame-format.js';

export type FrameSink<T extends number = number> = (type: T, tag: number, payload: Buffer) => void;

/** A read at a frame boundary takes up to this much more than the largest frame so far. */
export const READ_SIZE = 64 * 1024;
/** A frame whose remaining payload is at least this is read by the kernel straight into place. */
export const DIRECT_MIN = 16 * 1024;
/** A partial frame of at most this many bytes is moved to the front so the next read can be a full one. */
const COMPACT_MAX = 16 * 1024;

/**
 * Receive buffer layout. A read at a frame boundary goes to the front (after at most COMPACT_MAX
 * bytes of a partial frame moved there) and may take READ_SIZE + `largest` bytes, so a whole
 * frame of any size seen so far fits in one read; a read in the middle of a large frame goes
 * straight to the frame's place and may run past its end by as much as leaves room for a whole
 * frame after it. So every frame that begins in a read has room to end in place: the buffer
 * holds COMPACT_MAX + READ_SIZE + 2 * `largest` bytes, and grows only when a larger frame comes.
 */
function capacityFor(largest: number): number {
  return COMPACT_MAX + READ_SIZE + 2 * largest;
}

/**
 * Turns a byte stream back into frames, whatever the read boundaries: a read holding many frames
 * yields them all, and a frame split across reads is gathered. Payloads are handed to the sink as
 * views, valid only during the call: into the read that holds them whole, or into the decoder's
 * own receive buffer, which is reused and never reallocated per frame.
 *
 * Two ways to feed it:
 * - `onread` (the socket option): the socket reads straight into the receive buffer, nothing is
 *   allocated per read, whole frames are never copied, and a large frame's remaining payload
 *   is read by the kernel into its place (the same read pattern as a hand-tuned raw socket);
 * - `push(chunk)` for a stream that hands out its own chunks ('data' events, tests): whole
 *   frames are views into the chunk; only a split frame is copied, into the receive buffer.
 *
 * Throws FrameError on a malformed header; the caller must then drop the stream.
 */
export class FrameDecoder<T extends number = number> {
  /** Largest DATA payload accepted; raised once the peer is known. */
  dataLimit: number;
  /** The socket option that reads into this decoder; errors go to `onError`. */
  readonly onread: OnReadOpts;
  readonly #format: FrameFormat;
  readonly #sink: FrameSink<T>;
  readonly #onError: (error: Error) => void;
  /** The receive buffer: `[#start, #end)` holds bytes received and not consumed yet. */
  #buf: Buffer;
  #start = 0;
  #end = 0;
  /** Payload length of the frame at `#start` once its header was read, else -1. */
  #length = -1;
  #type = 0;
  #tag = 0;
  #halted = false;
  /** The largest frame, header included, the buffer is laid out for. */
  #largest: number;
  /** The last read target handed to the socket, reused while it stays the same. */
  #target: Buffer;
  #targetFrom = 0;
  #targetTo = 0;

  constructor(format: FrameFormat, sink: FrameSink<T>, dataLimit: number, onError: (error: Error) => void = throwError) {
    this.#format = format;
    this.#largest = HEADER_SIZE + format.controlLimit;
    this.#sink = sink;
    this.#onError = onError;
    this.dataLimit = dataLimit;
    this.#buf = Buffer.allocUnsafe(capacityFor(this.#largest));
    this.#targetTo = READ_SIZE + this.#largest;
    this.#target = this.#buf.subarray(0, this.#targetTo);
    this.onread = {
      buffer: () => this.#nextTarget(),
      callback: (nread: number, buf: Uint8Array) => {
        try {
          this.#received(nread, buf);
        } catch (err) {
          this.#halted = true;
          this.#onError(err instanceof Error ? err : new Error(String(err)));
        }
        return true;
      },
    };
  }

  /** Stops delivering, even the rest of the current read (the connection is being dropped). */
  halt(): void {
    this.#halted = true;
  }

  /** True while a frame is partly read. */
  get midFrame(): boolean {
    return this.#end > this.#start;
  }

  /** Bytes of receive buffer in use (grows to the largest frame that arrived split, never per frame). */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Feeds a chunk the caller owns; whole frames in it are delivered as views into it. */
  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && !this.#halted) {
      if (this.#end > this.#start) {
        // Complete the frame gathered so far, header first.
        if (this.#length < 0) {
          const take = Math.min(HEADER_SIZE - (this.#end - this.#start), n - off);
          chunk.copy(this.#buf, this.#end, off, off + take);
          this.#end += take;
          off += take;
          if (this.#end - this.#start < HEADER_SIZE) return;
          this.#parseAt(this.#buf, this.#start);
        }
        const stop = this.#start + HEADER_SIZE + this.#length;
        const take = Math.min(stop - this.#end, n - off);
        chunk.copy(this.#buf, this.#end, off, off + take);
        this.#end += take;
        off += take;
        if (this.#end < stop) return;
        this.#deliverBuffered();
        continue;
      }
      if (n - off < HEADER_SIZE) {
        this.#start = 0;
        this.#end = chunk.copy(this.#buf, 0, off, n);
        return;
      }
      const length = this.#parse(chunk, off);
      if (n - off - HEADER_SIZE >= length) {
        const at = off + HEADER_SIZE;
        off = at + length;
        this.#sink(this.#type as T, this.#tag, chunk.subarray(at, off));
        continue;
      }
      this.#start = 0;
      this.#end = 0;
      this.#length = length;
      this.#fit();
      this.#end = chunk.copy(this.#buf, 0, off, n);
      return;
    }
  }

  /**
   * Where the socket reads next: the rest of a large frame in place (and past it while a whole
   * frame still fits after it, so a read that ends the frame rarely ends exactly on it and costs
   * libuv no extra empty read), else a boundary read after what is held.
   */
  #nextTarget(): Buffer {
    let from: number;
    let to: number;
    if (this.#halted) {
      // Nothing more is delivered; keep the socket reading somewhere harmless until it is gone.
      this.#start = this.#end = 0;
      this.#length = -1;
    }
    const held = this.#end - this.#start;
    const frameEnd = this.#start + HEADER_SIZE + this.#length;
    if (this.#length >= 0 && (frameEnd - this.#end >= DIRECT_MIN || held > COMPACT_MAX)) {
      from = this.#end;
      to = frameEnd + Math.max(0, Math.min(READ_SIZE, this.#buf.length - frameEnd - this.#largest));
    } else {
      if (this.#start > 0) {
        if (held > 0) this.#buf.copy(this.#buf, 0, this.#start, this.#end);
        this.#start = 0;
        this.#end = held;
      }
      from = held;
      to = held + READ_SIZE + this.#largest;
    }
    if (from !== this.#targetFrom || to !== this.#targetTo || this.#target.buffer !== this.#buf.buffer) {
      this.#target = this.#buf.subarray(from, to);
      this.#targetFrom = from;
      this.#targetTo = to;
    }
    return this.#target;
  }

  /** The socket read `nread` bytes into the target it was given. */
  #received(nread: number, target: Uint8Array): void {
    if (target !== this.#target) throw new Error(`${this.#format.peer}: a read landed outside the receive buffer`);
    this.#end += nread;
    while (!this.#halted) {
      if (this.#length < 0) {
        if (this.#end - this.#start < HEADER_SIZE) break;
        // May move the bytes held into a bigger buffer (a frame larger than any before).
        this.#parseAt(this.#buf, this.#start);
      }
      if (this.#end - this.#start < HEADER_SIZE + this.#length) break;
      this.#deliverBuffered();
    }
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }

  /** Delivers the whole frame at `#start` of the receive buffer and consumes it. */
  #deliverBuffered(): void {
    const at = this.#start + HEADER_SIZE;
    const stop = at + this.#length;
    this.#length = -1;
    this.#start = stop;
    if (stop === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    this.#sink(this.#type as T, this.#tag, this.#buf.subarray(at, stop));
  }

  /** Parses the header at `at` of the receive buffer, then makes room for its frame there. */
  #parseAt(buf: Buffer, at: number): void {
    this.#length = this.#parse(buf, at);
    this.#fit();
  }

  /**
   * Makes room for the frame at `#start` (header parsed): a frame larger than any before grows
   * the buffer to the layout for it, moving what is held to the front.
   */
  #fit(): void {
    const frame = HEADER_SIZE + this.#length;
    // In steps of a read, so frames that grow a little at a time do not regrow it every time.
    if (frame > this.#largest) this.#largest = Math.ceil(frame / READ_SIZE) * READ_SIZE;
    const need = capacityFor(this.#largest);
    if (need <= this.#buf.length && this.#start + frame <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.#buf.length));
    this.#buf.copy(next, 0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
    this.#buf = next;
  }

  /** Validates the header at `at` of `buf`; records its type and tag and returns its payload length. */
  #parse(buf: Buffer, at: number): number {
    const magic = (buf[at]! << 8) | buf[at + 1]!;
    if (magic !== this.#format.magic)
      throw new FrameError(`bad magic 0x${magic.toString(16).padStart(4, '0')} (not a ${this.#format.peer} peer)`);
    const type = buf[at + 2]!;
    const length = buf.readUInt32BE(at + 4);
    const problem = this.#format.check(type, length, this.dataLimit);
    if (problem) throw new FrameError(problem);
    this.#type = type;
    this.#tag = buf[at + 3]!;
    return length;
  }
}

function throwError(error: Error): never {
  throw error;
}
