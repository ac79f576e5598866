import { FRAME_HEADER_SIZE, FrameDecoder, FrameError, writeHeader, type FrameFormat } from '@switchyard/btl-base';
import { parseGid, formatGid } from '../constants.js';

/**
 * The soft provider's packets between two devices. A connection is one Unix stream socket per
 * requesting QP: it carries HELLO (and ACCEPT), and its closing is how either side learns the
 * other device is gone. When both processes can share memory (the btl-sm addon), the requests
 * and responses then travel through a pair of rings in a segment the requester made (see
 * shm-link.ts), and payloads above the inline limit are moved by the responder with CMA
 * (the *_CMA ops carry the requester's address instead of the bytes); otherwise every packet
 * is a frame of the btl base on the socket (magic 'SV', the op as its type, then its fields).
 */
export const Op = Object.freeze({
  /** First frame on a connection: which local QP talks to which remote QP (and from where). */
  HELLO: 1,
  SEND: 2,
  WRITE: 3,
  READ: 4,
  /** SEND of `length` bytes the responder reads at `src` in the requester (process_vm_readv). */
  SEND_CMA: 5,
  /** RDMA WRITE whose payload the responder reads at `src` in the requester. */
  WRITE_CMA: 6,
  /** RDMA READ the responder writes straight to `dst` in the requester (process_vm_writev). */
  READ_CMA: 7,
  ACK: 16,
  READ_RESP: 17,
  NAK: 18,
  /** The responder's answer to a HELLO that offered shared memory (on the socket). */
  ACCEPT: 19,
  /** A READ_CMA is done: the bytes are in the requester's memory. */
  READ_DONE: 20,
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

/** A requester's offer of a shared-memory link: its segment and doorbell, as descriptors of its process. */
export interface ShmOffer {
  readonly pid: number;
  readonly segmentFd: number;
  readonly segmentSize: number;
  readonly doorbellFd: number;
  readonly requestFifo: number;
  readonly responseFifo: number;
}

export type Request =
  | { readonly op: typeof Op.HELLO; readonly srcQpn: number; readonly dstQpn: number; readonly srcGid: string; readonly offer?: ShmOffer }
  | { readonly op: typeof Op.SEND; readonly psn: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.WRITE; readonly psn: number; readonly addr: bigint; readonly rkey: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.READ; readonly psn: number; readonly addr: bigint; readonly rkey: number; readonly length: number }
  | { readonly op: typeof Op.SEND_CMA; readonly psn: number; readonly length: number; readonly src: bigint }
  | {
    readonly op: typeof Op.WRITE_CMA;
    readonly psn: number;
    readonly addr: bigint;
    readonly rkey: number;
    readonly length: number;
    readonly src: bigint;
  }
  | {
    readonly op: typeof Op.READ_CMA;
    readonly psn: number;
    readonly addr: bigint;
    readonly rkey: number;
    readonly length: number;
    readonly dst: bigint;
  };

export type Response =
  | { readonly op: typeof Op.ACK; readonly psn: number }
  | { readonly op: typeof Op.READ_RESP; readonly psn: number; readonly payload: Uint8Array }
  | { readonly op: typeof Op.NAK; readonly psn: number; readonly code: number; readonly rnrTimer: number }
  | { readonly op: typeof Op.READ_DONE; readonly psn: number; readonly length: number };

/** The responder's answer to an offer: its pid and doorbell, or `ok` false (stay on the socket). */
export interface Accept {
  readonly op: typeof Op.ACCEPT;
  readonly ok: boolean;
  readonly pid: number;
  readonly doorbellFd: number;
  /** The responder's published region table (mr-window.ts), as a descriptor of its process and a size. */
  readonly mrTableFd: number;
  readonly mrTableSize: number;
}

export type Packet = Request | Response | Accept;

const OPS: ReadonlySet<number> = new Set(Object.values(Op));

const SOFT_FRAMES: FrameFormat = Object.freeze({
  magic: 0x5356,
  peer: 'soft verbs device',
  controlLimit: 64,
  // No size limit beyond the 32-bit length: the peer is a device of this user on this machine.
  check: (type: number) => (OPS.has(type) ? undefined : `soft verbs: unknown packet type ${type}`),
});

/** Largest fields part of any packet (HELLO with an offer). */
const MAX_FIELDS = 48;

/** A packet's fields, then its payload (kept apart so a ring can take both without a copy). */
export interface Encoded {
  readonly fields: Uint8Array;
  readonly payload?: Uint8Array;
}

const scratch = new DataView(new ArrayBuffer(MAX_FIELDS));
const scratchBytes = new Uint8Array(scratch.buffer);

/**
 * The fields of `p` in a scratch buffer, valid until the next call (the caller copies them into
 * a ring or a frame at once), and its payload (a view, not copied).
 */
export function encodeFields(p: Packet): Encoded {
  const v = scratch;
  const fields = (n: number, payload?: Uint8Array): Encoded =>
    payload ? { fields: scratchBytes.subarray(0, n), payload } : { fields: scratchBytes.subarray(0, n) };
  // Every request and response starts with its PSN; RDMA requests go on with { addr, rkey }.
  if ('psn' in p) v.setUint32(0, p.psn);
  if ('rkey' in p) {
    v.setBigUint64(4, p.addr);
    v.setUint32(12, p.rkey);
  }
  switch (p.op) {
    case Op.HELLO: {
      v.setUint32(0, p.srcQpn);
      v.setUint32(4, p.dstQpn);
      scratchBytes.set(parseGid(p.srcGid), 8);
      if (!p.offer) return fields(24);
      const o = p.offer;
      [o.pid, o.segmentFd, o.segmentSize, o.doorbellFd, o.requestFifo, o.responseFifo].forEach((n, i) => v.setUint32(24 + 4 * i, n));
      return fields(48);
    }
    case Op.SEND:
    case Op.READ_RESP:
      return fields(4, p.payload);
    case Op.WRITE:
      return fields(16, p.payload);
    case Op.READ:
      v.setUint32(16, p.length);
      return fields(20);
    case Op.SEND_CMA:
      v.setUint32(4, p.length);
      v.setBigUint64(8, p.src);
      return fields(16);
    case Op.WRITE_CMA:
    case Op.READ_CMA:
      v.setUint32(16, p.length);
      v.setBigUint64(20, p.op === Op.WRITE_CMA ? p.src : p.dst);
      return fields(28);
    case Op.ACK:
      return fields(4);
    case Op.NAK:
      v.setUint8(4, p.code);
      v.setUint8(5, p.rnrTimer);
      return fields(6);
    case Op.ACCEPT:
      v.setUint32(0, p.pid);
      v.setUint32(4, p.doorbellFd);
      v.setUint32(8, p.mrTableFd);
      v.setUint32(12, p.mrTableSize);
      v.setUint8(16, p.ok ? 1 : 0);
      return fields(17);
    case Op.READ_DONE:
      v.setUint32(4, p.length);
      return fields(8);
  }
}

/** One frame for the socket. */
export function encode(p: Packet): Buffer {
  const { fields, payload } = encodeFields(p);
  const length = fields.length + (payload?.length ?? 0);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length);
  writeHeader(buf, 0, SOFT_FRAMES, p.op, 0, length);
  buf.set(fields, FRAME_HEADER_SIZE);
  if (payload) buf.set(payload, FRAME_HEADER_SIZE + fields.length);
  return buf;
}

/** Decodes one packet: `body` is its fields and payload (after the op); payloads are views into it. */
export function decode(op: number, body: Uint8Array): Packet {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const u32 = (at: number): number => view.getUint32(at);
  switch (op) {
    case Op.HELLO: {
      const hello = { op, srcQpn: u32(0), dstQpn: u32(4), srcGid: formatGid(body.subarray(8, 24)) } as const;
      if (body.length < 48) return hello;
      const [pid, segmentFd, segmentSize, doorbellFd, requestFifo, responseFifo] = [24, 28, 32, 36, 40, 44].map(u32) as [
        number, number, number, number, number, number,
      ];
      return { ...hello, offer: { pid, segmentFd, segmentSize, doorbellFd, requestFifo, responseFifo } };
    }
    case Op.SEND:
      return { op, psn: u32(0), payload: body.subarray(4) };
    case Op.WRITE:
      return { op, psn: u32(0), addr: view.getBigUint64(4), rkey: u32(12), payload: body.subarray(16) };
    case Op.READ:
      return { op, psn: u32(0), addr: view.getBigUint64(4), rkey: u32(12), length: u32(16) };
    case Op.SEND_CMA:
      return { op, psn: u32(0), length: u32(4), src: view.getBigUint64(8) };
    case Op.WRITE_CMA:
      return { op, psn: u32(0), addr: view.getBigUint64(4), rkey: u32(12), length: u32(16), src: view.getBigUint64(20) };
    case Op.READ_CMA:
      return { op, psn: u32(0), addr: view.getBigUint64(4), rkey: u32(12), length: u32(16), dst: view.getBigUint64(20) };
    case Op.ACK:
      return { op, psn: u32(0) };
    case Op.READ_RESP:
      return { op, psn: u32(0), payload: body.subarray(4) };
    case Op.NAK:
      return { op, psn: u32(0), code: view.getUint8(4), rnrTimer: view.getUint8(5) };
    case Op.ACCEPT:
      return { op, pid: u32(0), doorbellFd: u32(4), mrTableFd: u32(8), mrTableSize: u32(12), ok: view.getUint8(16) === 1 };
    case Op.READ_DONE:
      return { op, psn: u32(0), length: u32(4) };
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
