import { parseGid, formatGid } from '../constants.js';

/**
 * The soft provider's packets between two devices, over one Unix stream socket per requesting
 * QP (the stream gives RC's in-order delivery). Each frame is `u32 length | u8 type | body`.
 * Requests flow requester → responder, responses back on the same socket, one per request.
 */
export const Op = Object.freeze({
  /** First frame on a connection: which local QP talks to which remote QP (and from where). */
  HELLO: 1,
  SEND: 2,
  WRITE: 3,
  READ: 4,
  ACK: 16,
  READ_RESP: 17,
  NAK: 18,
});

/**
 * NAK codes. DROPPED stands for "the responder silently discarded the packet" (no such QP, QP
 * not in RTR/RTS, wrong peer): a real requester sees nothing and times out; the soft requester
 * gets told at once and then waits its ack timeout, so retry counts and timing stay the same.
 */
export const Nak = Object.freeze({
  RNR: 1,
  REM_ACCESS: 2,
  REM_INV_REQ: 3,
  REM_OP: 4,
  DROPPED: 5,
});

export type Request =
  | { readonly op: typeof Op.HELLO; readonly srcQpn: number; readonly dstQpn: number; readonly srcGid: string }
  | { readonly op: typeof Op.SEND; readonly psn: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.WRITE; readonly psn: number; readonly addr: bigint; readonly rkey: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.READ; readonly psn: number; readonly addr: bigint; readonly rkey: number; readonly length: number };

export type Response =
  | { readonly op: typeof Op.ACK; readonly psn: number }
  | { readonly op: typeof Op.READ_RESP; readonly psn: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.NAK; readonly psn: number; readonly code: number; readonly rnrTimer: number };

export type Packet = Request | Response;

function frame(op: number, headerBytes: number, payload?: Uint8Array): { buf: Buffer; view: DataView } {
  const length = 1 + headerBytes + (payload?.length ?? 0);
  const buf = Buffer.allocUnsafe(4 + length);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  view.setUint32(0, length);
  view.setUint8(4, op);
  if (payload) buf.set(payload, 5 + headerBytes);
  return { buf, view };
}

export function encode(p: Packet): Buffer {
  switch (p.op) {
    case Op.HELLO: {
      const { buf, view } = frame(p.op, 24);
      view.setUint32(5, p.srcQpn);
      view.setUint32(9, p.dstQpn);
      buf.set(parseGid(p.srcGid), 13);
      return buf;
    }
    case Op.SEND: {
      const { buf, view } = frame(p.op, 4, p.payload);
      view.setUint32(5, p.psn);
      return buf;
    }
    case Op.WRITE: {
      const { buf, view } = frame(p.op, 16, p.payload);
      view.setUint32(5, p.psn);
      view.setBigUint64(9, p.addr);
      view.setUint32(17, p.rkey);
      return buf;
    }
    case Op.READ: {
      const { buf, view } = frame(p.op, 20);
      view.setUint32(5, p.psn);
      view.setBigUint64(9, p.addr);
      view.setUint32(17, p.rkey);
      view.setUint32(21, p.length);
      return buf;
    }
    case Op.ACK: {
      const { buf, view } = frame(p.op, 4);
      view.setUint32(5, p.psn);
      return buf;
    }
    case Op.READ_RESP: {
      const { buf, view } = frame(p.op, 4, p.payload);
      view.setUint32(5, p.psn);
      return buf;
    }
    case Op.NAK: {
      const { buf, view } = frame(p.op, 6);
      view.setUint32(5, p.psn);
      view.setUint8(9, p.code);
      view.setUint8(10, p.rnrTimer);
      return buf;
    }
  }
}

/** Decodes one frame body (after the length); payloads are views into `body`. */
export function decode(body: Uint8Array): Packet {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const op = view.getUint8(0);
  switch (op) {
    case Op.HELLO:
      return { op, srcQpn: view.getUint32(1), dstQpn: view.getUint32(5), srcGid: formatGid(body.subarray(9, 25)) };
    case Op.SEND:
      return { op, psn: view.getUint32(1), payload: body.subarray(5) };
    case Op.WRITE:
      return { op, psn: view.getUint32(1), addr: view.getBigUint64(5), rkey: view.getUint32(13), payload: body.subarray(17) };
    case Op.READ:
      return { op, psn: view.getUint32(1), addr: view.getBigUint64(5), rkey: view.getUint32(13), length: view.getUint32(17) };
    case Op.ACK:
      return { op, psn: view.getUint32(1) };
    case Op.READ_RESP:
      return { op, psn: view.getUint32(1), payload: body.subarray(5) };
    case Op.NAK:
      return { op, psn: view.getUint32(1), code: view.getUint8(5), rnrTimer: view.getUint8(6) };
    default:
      throw new Error(`soft verbs: unknown packet type ${op}`);
  }
}

/** Reassembles frames from stream chunks. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** Feeds a chunk; returns the complete frame bodies it finished. */
  push(chunk: Buffer): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (this.#buffered < 4 + length) break;
      const whole = this.#take(4 + length);
      out.push(whole.subarray(4));
    }
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    return Buffer.concat(this.#chunks).subarray(0, n);
  }

  #take(n: number): Buffer {
    let first = this.#chunks[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.#chunks);
      this.#chunks = [first];
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return out;
  }
}
