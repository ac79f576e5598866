/**
 * The length-prefixed frame every stream BTL writes: an 8-byte header and its payload.
 *
 *   0       2      3     4              8
 *   | magic | type | tag | length (BE)  | payload (length bytes) ...
 *
 * Each transport has its own magic and frame types (a `FrameFormat`). The magic makes a stray
 * client (an HTTP probe, a port scanner, another protocol) fail on its first bytes instead of
 * being read as a length, and the format's limits bound what a peer can make us allocate.
 */
export const FRAME_HEADER_SIZE = 8;

/** Hard ceiling on any frame, whatever the parameters say: the length field is 32 bits. */
export const ABSOLUTE_FRAME_LIMIT = 1024 * 1024 * 1024;

export const ERR_BTL_FRAME = 'ERR_SWITCHYARD_BTL_FRAME';

/** A malformed stream: the caller drops the connection. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code = ERR_BTL_FRAME;
}

/** One transport's framing: its magic and which frames of which sizes it accepts. */
export interface FrameFormat {
  readonly magic: number;
  /** Who speaks it, for errors: `bad magic … (not a <peer> peer)`. */
  readonly peer: string;
  /** The largest non-data frame payload (handshakes): the decoder's buffer starts that large. */
  readonly controlLimit: number;
  /** What is wrong with a frame of `type` and `length` when data frames may be `dataLimit` long, or undefined. */
  check(type: number, length: number, dataLimit: number): string | undefined;
}

export function encodeHeader(format: FrameFormat, type: number, tag: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  writeHeader(header, 0, format, type, tag, length);
  return header;
}

/** Writes a header at `at` of `buf` (a transport batching frames writes them in place). */
export function writeHeader(buf: Uint8Array, at: number, format: FrameFormat, type: number, tag: number, length: number): void {
  buf[at] = format.magic >> 8;
  buf[at + 1] = format.magic & 0xff;
  buf[at + 2] = type;
  buf[at + 3] = tag;
  buf[at + 4] = length >>> 24;
  buf[at + 5] = (length >>> 16) & 0xff;
  buf[at + 6] = (length >>> 8) & 0xff;
  buf[at + 7] = length & 0xff;
}

/** One frame in one buffer: the segments are copied, so the caller may reuse them at once. */
export function encodeFrame(format: FrameFormat, type: number, tag: number, segments: readonly Uint8Array[]): Buffer {
  let bytes = 0;
  for (const s of segments) bytes += s.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + bytes);
  writeHeader(frame, 0, format, type, tag, bytes);
  let offset = FRAME_HEADER_SIZE;
  for (const s of segments) {
    frame.set(s, offset);
    offset += s.length;
  }
  return frame;
}
