/**
 * The openib BTL's header, first in every SEND it posts (4 bytes): what the message is, the
 * upper layer's tag, and the credits the sender returns (receive buffers it re-posted since its
 * last message: the piggybacked half of the credit flow control).
 */
export const HEADER_SIZE = 4;

export const Kind = Object.freeze({
  /** A fragment for the upper layer; consumes one of the peer's data credits. */
  DATA: 0,
  /** Only returns credits (nothing else to send them with). Uses a reserved buffer. */
  CREDIT: 1,
  /** "My QP is ready": the first message on a QP, both ways. Uses a reserved buffer. */
  HELLO: 2,
});

export type KindValue = (typeof Kind)[keyof typeof Kind];

export const MAX_PIGGYBACK = 0xffff;

export function writeHeader(buf: Uint8Array, at: number, kind: KindValue, tag: number, credits: number): void {
  buf[at] = kind;
  buf[at + 1] = tag;
  buf[at + 2] = credits >> 8;
  buf[at + 3] = credits & 0xff;
}

export function readHeader(buf: Uint8Array, at: number): { kind: number; tag: number; credits: number } {
  return { kind: buf[at]!, tag: buf[at + 1]!, credits: (buf[at + 2]! << 8) | buf[at + 3]! };
}
