/**
 * The wire format of `switchyard-btl-uds/1`: every frame is an 8-byte header and its payload.
 *
 *   0      2      3     4              8
 *   | 'SU' | type | tag | length (BE)  | payload (length bytes) ...
 */

export const HEADER_SIZE = 8;
export const MAGIC = 0x5355;

export const FrameType = Object.freeze({
  /** Acceptor → connector: `{ protocol, nonce }`. */
  CHALLENGE: 1,
  /** Connector → acceptor: `{ job, from, to, nonce, mac }`. */
  RESPONSE: 2,
  /** Acceptor → connector: `{ mac }`, proof that it is the rank the connector meant to reach. */
  ACCEPT: 3,
  /** Connector → acceptor: one fragment. */
  DATA: 4,
});
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Handshake frames are small JSON objects. */
export const CONTROL_LIMIT = 4096;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** One frame in one buffer: the module copies each fragment once, so the caller may reuse its segments. */
export function encodeFrame(type: FrameType, tag: number, segments: readonly Uint8Array[], bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + bytes);
  frame.writeUInt16BE(MAGIC, 0);
  frame[2] = type;
  frame[3] = tag;
  frame.writeUInt32BE(bytes, 4);
  let offset = HEADER_SIZE;
  for (const s of segments) {
    frame.set(s, offset);
    offset += s.length;
  }
  return frame;
}

export function encodeControl(type: FrameType, message: object): Buffer {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  return encodeFrame(type, 0, [payload], payload.length);
}

export type FrameSink = (type: FrameType, tag: number, payload: Buffer) => void;

/**
 * Cuts a byte stream into frames. A payload is handed out as a view into the reader's buffer,
 * valid during the sink call only (the BTL contract lets `host.receive` data be such a view).
 */
export class FrameReader {
  #buffer = Buffer.allocUnsafe(64 * 1024);
  #start = 0;
  #end = 0;
  #halted = false;

  constructor(
    readonly sink: FrameSink,
    /** Largest DATA payload accepted; raised once the peer is known. */
    public dataLimit: number,
  ) {}

  /** Stops delivering (the connection is going away). */
  halt(): void {
    this.#halted = true;
  }

  /** Throws FrameError on a malformed stream; the caller drops the connection. */
  push(chunk: Buffer): void {
    this.#append(chunk);
    while (!this.#halted && this.#end - this.#start >= HEADER_SIZE) {
      const b = this.#buffer;
      const at = this.#start;
      if (b.readUInt16BE(at) !== MAGIC) throw new FrameError('bad magic: not a switchyard-btl-uds peer');
      const type = b[at + 2]! as FrameType;
      const tag = b[at + 3]!;
      const length = b.readUInt32BE(at + 4);
      if (type < FrameType.CHALLENGE || type > FrameType.DATA) throw new FrameError(`unknown frame type ${type}`);
      const limit = type === FrameType.DATA ? this.dataLimit : CONTROL_LIMIT;
      if (length > limit) throw new FrameError(`frame of ${length} bytes exceeds the limit of ${limit}`);
      if (this.#end - at - HEADER_SIZE < length) break;
      this.#start = at + HEADER_SIZE + length;
      this.sink(type, tag, b.subarray(at + HEADER_SIZE, this.#start));
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  #append(chunk: Buffer): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      const size = Math.max(this.#buffer.length, 2 * (live + chunk.length));
      // Grow, or just move the unread bytes to the front of the same buffer.
      const next = size > this.#buffer.length ? Buffer.allocUnsafe(size) : this.#buffer;
      this.#buffer.copy(next, 0, this.#start, this.#end);
      this.#buffer = next;
      this.#start = 0;
      this.#end = live;
    }
    chunk.copy(this.#buffer, this.#end);
    this.#end += chunk.length;
  }
}
