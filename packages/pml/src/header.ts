/**
 * The PML's fragment headers, little-endian, first byte the type. MATCH and RNDV carry the
 * matching triple (context, tag, per-peer sequence number); ACK and FRAG are addressed by
 * request ids, so a rendezvous's data fragments may travel over any module.
 *
 *   MATCH  | 1 | - | ctx u16 | tag i32 | seq u32 |                                  12 bytes
 *   RNDV   | 2 | - | ctx u16 | tag i32 | seq u32 | send req u32 | total u64 |       24 bytes
 *   ACK    | 3 | - | -   -   | send req u32 | recv req u32 |                       12 bytes
 *   FRAG   | 4 | - | -   -   | recv req u32 | offset u64 |                         16 bytes
 *
 * Headers are written and read byte by byte: no DataView per fragment on the hot path.
 */
export const enum FragType {
  /** A whole message that fits the eager limit. */
  MATCH = 1,
  /** The first part of a large message: waits for the receiver's ACK before the rest is sent. */
  RNDV = 2,
  /** Receiver to sender: matched, send the rest to this receive request. */
  ACK = 3,
  /** A part of a rendezvous message at an offset. */
  FRAG = 4,
}

export const MATCH_HEADER = 12;
export const RNDV_HEADER = 24;
export const ACK_HEADER = 12;
export const FRAG_HEADER = 16;

const TWO_32 = 2 ** 32;

export function writeMatch(ctx: number, tag: number, seq: number): Uint8Array {
  const b = new Uint8Array(MATCH_HEADER);
  b[0] = FragType.MATCH;
  putTriple(b, ctx, tag, seq);
  return b;
}

export function writeRndv(ctx: number, tag: number, seq: number, sendReq: number, total: number): Uint8Array {
  const b = new Uint8Array(RNDV_HEADER);
  b[0] = FragType.RNDV;
  putTriple(b, ctx, tag, seq);
  put32(b, 12, sendReq);
  put64(b, 16, total);
  return b;
}

export function writeAck(sendReq: number, recvReq: number): Uint8Array {
  const b = new Uint8Array(ACK_HEADER);
  b[0] = FragType.ACK;
  put32(b, 4, sendReq);
  put32(b, 8, recvReq);
  return b;
}

export function writeFrag(recvReq: number, offset: number): Uint8Array {
  const b = new Uint8Array(FRAG_HEADER);
  b[0] = FragType.FRAG;
  put32(b, 4, recvReq);
  put64(b, 8, offset);
  return b;
}

/** MATCH / RNDV: the matching context. */
export function ctxOf(b: Uint8Array): number {
  return b[2]! | (b[3]! << 8);
}

/** MATCH / RNDV: the MPI tag. */
export function tagOf(b: Uint8Array): number {
  return b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
}

/** MATCH / RNDV: the per-peer sequence number. */
export function seqOf(b: Uint8Array): number {
  return get32(b, 8);
}

/** RNDV: the sender's request id. ACK: the sender's request id. FRAG: the receiver's request id. */
export function get32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** A u64 field (sizes and offsets, exact up to 2^53). */
export function get64(b: Uint8Array, at: number): number {
  return get32(b, at) + get32(b, at + 4) * TWO_32;
}

function putTriple(b: Uint8Array, ctx: number, tag: number, seq: number): void {
  b[2] = ctx;
  b[3] = ctx >>> 8;
  put32(b, 4, tag);
  put32(b, 8, seq);
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

function put64(b: Uint8Array, at: number, v: number): void {
  put32(b, at, v >>> 0);
  put32(b, at + 4, Math.floor(v / TWO_32));
}
