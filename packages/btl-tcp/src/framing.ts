/**
 * The wire format: every frame, handshake and data alike, is an 8-byte header followed by its
 * payload.
 *
 *   0      2      3     4              8
 *   | 'SY' | type | tag | length (BE)  | payload (length bytes) ...
 *
 * The magic makes a stray client (an HTTP probe, a port scanner, another protocol) fail on its
 * first bytes instead of being read as a length, and the length cap bounds what a peer can make
 * us allocate.
 */

export const HEADER_SIZE = 8;
export const MAGIC = 0x5359;

export const FrameType = Object.freeze({
  CHALLENGE: 1,
  RESPONSE: 2,
  ACCEPT: 3,
  REJECT: 4,
  DATA: 5,
  CLOSE: 6,
});
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Handshake frames are small JSON objects; nothing legitimate comes near this. */
export const CONTROL_LIMIT = 4096;

/** Hard ceiling on any data frame, whatever the parameters say: the length field is 32 bits. */
export const ABSOLUTE_DATA_LIMIT = 1024 * 1024 * 1024;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function encodeHeader(type: FrameType, tag: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUInt16BE(MAGIC, 0);
  header[2] = type;
  header[3] = tag;
  header.writeUInt32BE(length, 4);
  return header;
}

/** A whole control frame in one buffer (they are tiny; one write keeps them atomic). */
export function encodeControl(type: FrameType, payload: Uint8Array = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  frame.writeUInt16BE(MAGIC, 0);
  frame[2] = type;
  frame[3] = 0;
  frame.writeUInt32BE(payload.length, 4);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

const EMPTY = Buffer.alloc(0);

export type FrameSink = (type: FrameType, tag: number, payload: Buffer) => void;

/**
 * Turns a byte stream back into frames, whatever the read boundaries: a frame split across
 * reads is reassembled, and a read holding many frames yields them all. A payload that lies
 * within one read is handed over as a view (no copy); only a split one is gathered.
 * Throws FrameError on a malformed header; the caller must then drop the stream.
 */
export class FrameDecoder {
  /** Largest DATA payload accepted; raised once the peer is known. */
  dataLimit: number;
  readonly #sink: FrameSink;
  readonly #header = Buffer.allocUnsafe(HEADER_SIZE);
  #headerFill = 0;
  #type: FrameType = FrameType.DATA;
  #tag = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #halted = false;

  constructor(sink: FrameSink, dataLimit: number) {
    this.#sink = sink;
    this.dataLimit = dataLimit;
  }

  /** Stops delivering, even the rest of the current read (the connection is being dropped). */
  halt(): void {
    this.#halted = true;
  }

  /** True while a frame is partly read. */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#body !== undefined;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.#halted) {
      if (this.#body !== undefined) {
        const n = Math.min(this.#body.length - this.#bodyFill, chunk.length - offset);
        chunk.copy(this.#body, this.#bodyFill, offset, offset + n);
        this.#bodyFill += n;
        offset += n;
        if (this.#bodyFill === this.#body.length) {
          const body = this.#body;
          this.#body = undefined;
          this.#sink(this.#type, this.#tag, body);
        }
        continue;
      }
      let length: number;
      if (this.#headerFill === 0 && chunk.length - offset >= HEADER_SIZE) {
        length = this.#parseHeader(chunk, offset);
        offset += HEADER_SIZE;
      } else {
        const n = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - offset);
        chunk.copy(this.#header, this.#headerFill, offset, offset + n);
        this.#headerFill += n;
        offset += n;
        if (this.#headerFill < HEADER_SIZE) return;
        this.#headerFill = 0;
        length = this.#parseHeader(this.#header, 0);
      }
      if (chunk.length - offset >= length) {
        const payload = chunk.subarray(offset, offset + length);
        offset += length;
        this.#sink(this.#type, this.#tag, payload);
      } else {
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyFill = 0;
      }
    }
  }

  #parseHeader(buf: Buffer, at: number): number {
    const magic = buf.readUInt16BE(at);
    if (magic !== MAGIC) throw new FrameError(`bad magic 0x${magic.toString(16).padStart(4, '0')} (not a switchyard btl-tcp peer)`);
    const type = buf[at + 2]!;
    const length = buf.readUInt32BE(at + 4);
    switch (type) {
      case FrameType.DATA:
        if (length > this.dataLimit) throw new FrameError(`data frame of ${length} bytes exceeds the limit of ${this.dataLimit}`);
        break;
      case FrameType.CLOSE:
        if (length !== 0) throw new FrameError(`close frame with a ${length}-byte payload`);
        break;
      case FrameType.CHALLENGE:
      case FrameType.RESPONSE:
      case FrameType.ACCEPT:
      case FrameType.REJECT:
        if (length > CONTROL_LIMIT) throw new FrameError(`handshake frame of ${length} bytes exceeds ${CONTROL_LIMIT}`);
        break;
      default:
        throw new FrameError(`unknown frame type ${type}`);
    }
    this.#type = type as FrameType;
    this.#tag = buf[at + 3]!;
    return length;
  }
}
