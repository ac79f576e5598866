/**
 * The PML's fragment headers, little-endian, first byte the type. MATCH and RNDV carry the
 * matching triple (context, tag, per-peer sequence number); ACK and FRAG are addressed by
 * request ids, so a rendezvous's data fragments may travel over any module.
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

export interface MatchHeader {
  readonly ctx: number;
  readonly tag: number;
  readonly seq: number;
}

export function writeMatch(ctx: number, tag: number, seq: number): Uint8Array {
  const b = new Uint8Array(MATCH_HEADER);
  const v = new DataView(b.buffer);
  v.setUint8(0, FragType.MATCH);
  v.setUint16(2, ctx, true);
  v.setInt32(4, tag, true);
  v.setUint32(8, seq, true);
  return b;
}

export function writeRndv(ctx: number, tag: number, seq: number, sendReq: number, total: number): Uint8Array {
  const b = new Uint8Array(RNDV_HEADER);
  const v = new DataView(b.buffer);
  v.setUint8(0, FragType.RNDV);
  v.setUint16(2, ctx, true);
  v.setInt32(4, tag, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, sendReq, true);
  v.setFloat64(16, total, true);
  return b;
}

export function writeAck(sendReq: number, recvReq: number): Uint8Array {
  const b = new Uint8Array(ACK_HEADER);
  const v = new DataView(b.buffer);
  v.setUint8(0, FragType.ACK);
  v.setUint32(4, sendReq, true);
  v.setUint32(8, recvReq, true);
  return b;
}

export function writeFrag(recvReq: number, offset: number): Uint8Array {
  const b = new Uint8Array(FRAG_HEADER);
  const v = new DataView(b.buffer);
  v.setUint8(0, FragType.FRAG);
  v.setUint32(4, recvReq, true);
  v.setFloat64(8, offset, true);
  return b;
}

export function view(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

export function readMatch(v: DataView): MatchHeader {
  return { ctx: v.getUint16(2, true), tag: v.getInt32(4, true), seq: v.getUint32(8, true) };
}
