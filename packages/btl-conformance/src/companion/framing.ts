/** A frame on a companion connection: u32 payload length, u8 tag, payload. */
export const FRAME_HEADER = 5;
/** Tag of the first frame a caller sends: who it is, proven with the job's secret. */
export const HELLO_TAG = 0;

export function encodeFrame(tag: number, segments: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const s of segments) length += s.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER + length);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt8(tag, 4);
  let offset = FRAME_HEADER;
  for (const s of segments) {
    frame.set(s, offset);
    offset += s.length;
  }
  return frame;
}

/** Cuts a byte stream into frames; refuses one larger than `limit` (a corrupt or hostile stream). */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  constructor(
    readonly limit: number,
    readonly onFrame: (tag: number, payload: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (this.#pending.length >= FRAME_HEADER) {
      const length = this.#pending.readUInt32LE(0);
      if (length > this.limit) throw new Error(`frame of ${length} bytes exceeds the limit of ${this.limit}`);
      if (this.#pending.length < FRAME_HEADER + length) return;
      const tag = this.#pending.readUInt8(4);
      const payload = this.#pending.subarray(FRAME_HEADER, FRAME_HEADER + length);
      this.#pending = this.#pending.subarray(FRAME_HEADER + length);
      this.onFrame(tag, payload);
    }
  }
}
