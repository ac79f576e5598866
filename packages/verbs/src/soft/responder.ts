import type { Socket } from 'node:net';
import { FrameError } from '@switchyard/btl-base';
import { Access } from '../constants.js';
import type { SoftQp } from './qp.js';
import { psnDiff } from './qp-state.js';
import { encode, Nak, Op, PacketReader, type Request, type Response } from './wire.js';

/**
 * The receive side of one incoming connection: a peer QP's requester talking to one of our QPs.
 * Requests are executed in PSN order against our registered memory; each gets exactly one
 * response (ACK, read data, or NAK).
 */
export function serveConnection(socket: Socket, findQp: (qpn: number) => SoftQp | undefined, onAccessError: (qp: SoftQp) => void): void {
  socket.unref();
  let peer: { srcQpn: number; dstQpn: number; srcGid: string } | undefined;
  const drop = (): void => {
    reader.halt();
    socket.destroy();
  };
  const reader = new PacketReader((packet) => {
    const request = packet as Request;
    if (request.op === Op.HELLO) {
      peer = { srcQpn: request.srcQpn, dstQpn: request.dstQpn, srcGid: request.srcGid };
      return;
    }
    if (!peer) return drop();
    const qp = findQp(peer.dstQpn);
    // No such QP, not ready, or not connected to this peer: a real HCA drops the packet.
    const response =
      qp && qp.acceptsFrom(peer.srcGid, peer.srcQpn)
        ? respond(qp, request, onAccessError)
        : ({ op: Op.NAK, psn: request.psn, code: Nak.DROPPED, rnrTimer: 0 } as const);
    if (response && !socket.destroyed) socket.write(encode(response));
  });
  socket.on('error', () => {
    // The requester went away; it will notice on its side.
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      // Not a soft device's stream.
      drop();
    }
  });
}

/**
 * Executes one request on `qp` (in RTR or RTS). Returns undefined for a request to drop: one
 * past the expected PSN, sent before the requester rewound after an RNR NAK.
 */
export function respond(
  qp: SoftQp,
  r: Exclude<Request, { op: typeof Op.HELLO }>,
  onAccessError: (qp: SoftQp) => void,
): Response | undefined {
  const d = psnDiff(r.psn, qp.attrs.rqPsn);
  if (d > 0) return undefined;
  if (d < 0) {
    // A duplicate (the requester lost its connection after we executed the request but before
    // our answer reached it, and retransmitted): already executed; answer again. Reads are
    // idempotent and are simply served again.
    if (r.op !== Op.READ) return { op: Op.ACK, psn: r.psn };
  }
  const advance = (): void => {
    if (d === 0) qp.attrs.rqPsn = (qp.attrs.rqPsn + 1) & 0xff_ffff;
  };

  switch (r.op) {
    case Op.SEND: {
      const wr = qp.rq.shift();
      if (!wr) return { op: Op.NAK, psn: r.psn, code: Nak.RNR, rnrTimer: qp.attrs.minRnrTimer };
      const fault = qp.mrs.scatter(qp.pd, wr.sges, r.payload);
      if (fault === 'LENGTH') {
        qp.completeRecv(wr.id, 'LOC_LEN_ERR', 0);
        qp.enterError();
        return { op: Op.NAK, psn: r.psn, code: Nak.REM_INV_REQ, rnrTimer: 0 };
      }
      if (fault) {
        qp.completeRecv(wr.id, 'LOC_PROT_ERR', 0);
        qp.enterError();
        return { op: Op.NAK, psn: r.psn, code: Nak.REM_OP, rnrTimer: 0 };
      }
      qp.completeRecv(wr.id, 'SUCCESS', r.payload.length);
      advance();
      return { op: Op.ACK, psn: r.psn };
    }
    case Op.WRITE:
    case Op.READ: {
      const need = r.op === Op.WRITE ? Access.REMOTE_WRITE : Access.REMOTE_READ;
      const length = r.op === Op.WRITE ? r.payload.length : r.length;
      const window = qp.attrs.qpAccess & need ? qp.mrs.resolve(r.rkey, qp.pd, r.addr, length, need) : 'ACCESS';
      if (typeof window === 'string') {
        // Bad rkey, wrong PD, missing right or out of bounds: NAK, and this QP goes to ERROR too.
        qp.enterError();
        onAccessError(qp);
        return { op: Op.NAK, psn: r.psn, code: Nak.REM_ACCESS, rnrTimer: 0 };
      }
      advance();
      if (r.op === Op.WRITE) {
        window.bytes.set(r.payload);
        return { op: Op.ACK, psn: r.psn };
      }
      return { op: Op.READ_RESP, psn: r.psn, payload: window.bytes };
    }
  }
}
