/**
 * The PML's fragment headers, little-endian. Every header starts with the same 12 bytes: the
 * type, the matching context, and the failover fields: this fragment's per-peer fragment
 * sequence number (`fseq`, 0 when failover is off) and the cumulative acknowledgement of the
 * peer's fragments (`ackd`: every fragment of the peer's below it arrived here; 0: none).
 *
 *   prefix | type u8 | - | ctx u16 | fseq u32 | ackd u32 |                          12 bytes
 *   MATCH  | prefix | tag i32 | seq u32 |                                           20 bytes
 *   RNDV   | prefix | tag i32 | seq u32 | send req u32 | total u64 |               32 bytes
 *   ACK    | prefix | send req u32 | recv req u32 | have u64 |                      28 bytes
 *   FRAG   | prefix | recv req u32 | offset u64 |                                   24 bytes
 *   RACK   | prefix |                                                               12 bytes
 *   RGET   | RNDV's fields |, then as payload the JSON { c: component, h: handle }  32 bytes + payload
 *
 * MATCH and RNDV carry the matching triple (context, tag, per-peer sequence number); ACK and
 * FRAG are addressed by request ids, so a rendezvous's data fragments may travel over any
 * module. RACK is an acknowledgement alone, for a peer with nothing to send back.
 * Headers are written and read byte by byte: no DataView per fragment on the hot path.
 */
export const enum FragType {
  /** A whole message that fits the eager limit. */
  MATCH = 1,
  /** The first part of a large message: waits for the receiver's ACK before the rest is sent. */
  RNDV = 2,
  /** Receiver to sender: matched, and `have` bytes came with the RNDV; send the rest. */
  ACK = 3,
  /** A part of a rendezvous message at an offset. */
  FRAG = 4,
  /** An acknowledgement without data (failover). */
  RACK = 5,
  /**
   * A RNDV whose payload stays in the sender's registered memory: the receiver pulls it with
   * the named component's get, then ACKs with `have` = the whole size (or 0 to ask for FRAGs).
   */
  RGET = 6,
  /**
   * Receiver to sender, for an RGET: write bytes `offset` to the end of the message into my
   * registered receive buffer (its descriptor follows) with the component's put, then send a FIN;
   * I read the bytes before `offset` with get meanwhile. Two cores copy instead of one.
   */
  PUT = 7,
  /** Sender to receiver: the PUT is done (`ok` 1) or could not be done (0: the receiver asks for fragments). */
  FIN = 8,
}

export const PREFIX = 12;
export const MATCH_HEADER = 20;
export const RNDV_HEADER = 32;
export const ACK_HEADER = 28;
export const FRAG_HEADER = 24;
export const RACK_HEADER = PREFIX;
export const PUT_HEADER = 28;
export const FIN_HEADER = 20;

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
  put32(b, 20, sendReq);
  put64(b, 24, total);
  return b;
}

export function writeRget(ctx: number, tag: number, seq: number, sendReq: number, total: number): Uint8Array {
  const b = writeRndv(ctx, tag, seq, sendReq, total);
  b[0] = FragType.RGET;
  return b;
}

export function writeAck(sendReq: number, recvReq: number, have: number): Uint8Array {
  const b = new Uint8Array(ACK_HEADER);
  b[0] = FragType.ACK;
  put32(b, 12, sendReq);
  put32(b, 16, recvReq);
  put64(b, 20, have);
  return b;
}

export function writePut(sendReq: number, recvReq: number, offset: number): Uint8Array {
  const b = writeAck(sendReq, recvReq, offset);
  b[0] = FragType.PUT;
  return b;
}

export function writeFin(recvReq: number, ok: boolean): Uint8Array {
  const b = new Uint8Array(FIN_HEADER);
  b[0] = FragType.FIN;
  put32(b, 12, recvReq);
  put32(b, 16, ok ? 1 : 0);
  return b;
}

export function writeFrag(recvReq: number, offset: number): Uint8Array {
  const b = new Uint8Array(FRAG_HEADER);
  b[0] = FragType.FRAG;
  put32(b, 12, recvReq);
  put64(b, 16, offset);
  return b;
}

export function writeRack(ackd: number): Uint8Array {
  const b = new Uint8Array(RACK_HEADER);
  b[0] = FragType.RACK;
  put32(b, 8, ackd);
  return b;
}

/** Sets the failover fields of a header this process wrote. */
export function stamp(b: Uint8Array, fseq: number, ackd: number): void {
  put32(b, 4, fseq);
  put32(b, 8, ackd);
}

/** Every header: the fragment sequence number (0: not sequenced). */
export function fseqOf(b: Uint8Array): number {
  return get32(b, 4);
}

/** Every header: the peer's cumulative acknowledgement of our fragments (0: none). */
export function ackdOf(b: Uint8Array): number {
  return get32(b, 8);
}

/** MATCH / RNDV: the matching context. */
export function ctxOf(b: Uint8Array): number {
  return b[2]! | (b[3]! << 8);
}

/** MATCH / RNDV: the MPI tag. */
export function tagOf(b: Uint8Array): number {
  return b[12]! | (b[13]! << 8) | (b[14]! << 16) | (b[15]! << 24);
}

/** MATCH / RNDV: the per-peer sequence number. */
export function seqOf(b: Uint8Array): number {
  return get32(b, 16);
}

/** An unsigned 32-bit field. */
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
  put32(b, 12, tag);
  put32(b, 16, seq);
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
