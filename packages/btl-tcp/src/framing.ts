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
