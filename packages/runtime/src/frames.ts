/**
 * OOB framing: a 4-byte little-endian length, then that many bytes of UTF-8 JSON. Length-prefixed
 * rather than newline-delimited so a payload never needs escaping and a reader knows up front
 * how much to wait for.
 */

/** Larger frames are refused: a garbage length must not make the HNP buffer gigabytes. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export const ERR_OOB_FRAME = 'ERR_SWITCHYARD_OOB_FRAME';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code = ERR_OOB_FRAME;
}

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Turns a byte stream back into messages, however the stream was cut into chunks. */
export class FrameDecoder {
  /** Largest frame accepted now: small until the peer has authenticated (oob-server.ts), then MAX_FRAME_BYTES. */
  limit: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(limit = MAX_FRAME_BYTES) {
    this.limit = limit;
  }

  /** Every message completed by `chunk`, in order; throws FrameError on a bad frame. */
  push(chunk: Buffer): unknown[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const messages: unknown[] = [];
    while (this.#buffered >= 4) {
      const head = this.#take(4, false);
      const length = head.readUInt32LE(0);
      if (length > this.limit) throw new FrameError(`incoming frame of ${length} bytes exceeds ${this.limit}`);
      if (this.#buffered < 4 + length) break;
      this.#take(4, true);
      const body = this.#take(length, true);
      try {
        messages.push(JSON.parse(body.toString('utf8')));
      } catch (err) {
        throw new FrameError(`frame is not JSON: ${(err as Error).message}`);
      }
    }
    return messages;
  }

  /** The first `n` buffered bytes, removed from the buffer when `consume`. */
  #take(n: number, consume: boolean): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    const first = this.#chunks[0]!;
    const out = first.subarray(0, n);
    if (consume) {
      this.#buffered -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    }
    return out;
  }
}
