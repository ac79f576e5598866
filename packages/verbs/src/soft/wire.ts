import { FRAME_HEADER_SIZE, FrameDecoder, FrameError, writeHeader, type FrameFormat } from '@switchyard/btl-base';
import { parseGid, formatGid } from '../constants.js';

/**
 * The soft provider's packets between two devices, over one Unix stream socket per requesting
 * QP (the stream gives RC's in-order delivery). Each is a frame of the btl base (magic 'SV', the
 * op as its type, then the op's fields and payload). Requests flow requester → responder,
 * responses back on the same socket, one per request.
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

const OPS: ReadonlySet<number> = new Set(Object.values(Op));

const SOFT_FRAMES: FrameFormat = Object.freeze({
  magic: 0x5356,
  peer: 'soft verbs device',
  controlLimit: 64,
  // No size limit beyond the 32-bit length: the peer is a device of this user on this machine.
  check: (type: number) => (OPS.has(type) ? undefined : `soft verbs: unknown packet type ${type}`),
});

/** Where an op's fields start in its frame. */
const AT = FRAME_HEADER_SIZE;

function frame(op: number, headerBytes: number, payload?: Uint8Array): { buf: Buffer; view: DataView } {
  const length = headerBytes + (payload?.length ?? 0);
  const buf = Buffer.allocUnsafe(AT + length);
  writeHeader(buf, 0, SOFT_FRAMES, op, 0, length);
  if (payload) buf.set(payload, AT + headerBytes);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.length) };
}

export function encode(p: Packet): Buffer {
  switch (p.op) {
    case Op.HELLO: {
      const { buf, view } = frame(p.op, 24);
      view.setUint32(AT, p.srcQpn);
      view.setUint32(AT + 4, p.dstQpn);
      buf.set(parseGid(p.srcGid), AT + 8);
      return buf;
    }
    case Op.SEND: {
      const { buf, view } = frame(p.op, 4, p.payload);
      view.setUint32(AT, p.psn);
      return buf;
    }
    case Op.WRITE: {
      const { buf, view } = frame(p.op, 16, p.payload);
      view.setUint32(AT, p.psn);
      view.setBigUint64(AT + 4, p.addr);
      view.setUint32(AT + 12, p.rkey);
      return buf;
    }
    case Op.READ: {
      const { buf, view } = frame(p.op, 20);
      view.setUint32(AT, p.psn);
      view.setBigUint64(AT + 4, p.addr);
      view.setUint32(AT + 12, p.rkey);
      view.setUint32(AT + 16, p.length);
      return buf;
    }
    case Op.ACK: {
      const { buf, view } = frame(p.op, 4);
      view.setUint32(AT, p.psn);
      return buf;
    }
    case Op.READ_RESP: {
      const { buf, view } = frame(p.op, 4, p.payload);
      view.setUint32(AT, p.psn);
      return buf;
    }
    case Op.NAK: {
      const { buf, view } = frame(p.op, 6);
      view.setUint32(AT, p.psn);
      view.setUint8(AT + 4, p.code);
      view.setUint8(AT + 5, p.rnrTimer);
      return buf;
    }
  }
}

/** Decodes one packet: `body` is its frame's payload (after the op); payloads are views into it. */
export function decode(op: number, body: Uint8Array): Packet {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  switch (op) {
    case Op.HELLO:
      return { op, srcQpn: view.getUint32(0), dstQpn: view.getUint32(4), srcGid: formatGid(body.subarray(8, 24)) };
    case Op.SEND:
      return { op, psn: view.getUint32(0), payload: body.subarray(4) };
    case Op.WRITE:
      return { op, psn: view.getUint32(0), addr: view.getBigUint64(4), rkey: view.getUint32(12), payload: body.subarray(16) };
    case Op.READ:
      return { op, psn: view.getUint32(0), addr: view.getBigUint64(4), rkey: view.getUint32(12), length: view.getUint32(16) };
    case Op.ACK:
      return { op, psn: view.getUint32(0) };
    case Op.READ_RESP:
      return { op, psn: view.getUint32(0), payload: body.subarray(4) };
    case Op.NAK:
      return { op, psn: view.getUint32(0), code: view.getUint8(4), rnrTimer: view.getUint8(5) };
    default:
      throw new Error(`soft verbs: unknown packet type ${op}`);
  }
}

/**
 * Cuts a stream into packets. A packet's payload is a view, valid during `onPacket` only (the
 * requester and responder copy it into registered memory there). Throws on a malformed stream.
 */
export class PacketReader extends FrameDecoder {
  constructor(onPacket: (packet: Packet) => void) {
    super(SOFT_FRAMES, (op, _tag, body) => onPacket(decodeFrame(op, body)), 0xffff_ffff);
  }
}

/** A packet too short for its op is a malformed stream, as a bad header is. */
function decodeFrame(op: number, body: Uint8Array): Packet {
  try {
    return decode(op, body);
  } catch (err) {
    throw new FrameError(`soft verbs: malformed packet: ${(err as Error).message}`, { cause: err });
  }
}
