import type { Socket } from 'node:net';
import { FrameError } from '@switchyard/btl-base';
import { Access } from '../constants.js';
import type { SoftQp } from './qp.js';
import { psnDiff } from './qp-state.js';
import type { PolledEnd, ShmHub } from './shm-hub.js';
import { attachLink } from './shm-connect.js';
import type { LinkEnd } from './shm-link.js';
import { encode, Nak, Op, PacketReader, type Packet, type Request, type Response, type ShmOffer } from './wire.js';

/** What a connection needs from its device. */
export interface ServeOptions {
  findQp(qpn: number): SoftQp | undefined;
  onAccessError(qp: SoftQp): void;
  /** The device's shared-memory side now (undefined: this connection stays on its socket). */
  hub(): ShmHub | undefined;
}

/**
 * The receive side of one incoming connection: a peer QP's requester talking to one of our QPs.
 * Requests are executed in PSN order against our registered memory; each gets exactly one
 * response (ACK, read data, or NAK), on the channel it came by: the socket, or the shared-memory
 * link the requester offered in its HELLO and we accepted.
 */
export function serveConnection(socket: Socket, options: ServeOptions): void {
  socket.unref();
  let peer: { srcQpn: number; dstQpn: number; srcGid: string } | undefined;
  let link: { close(): void } | undefined;
  const drop = (): void => {
    reader.halt();
    socket.destroy();
  };
  const execute = (request: Exclude<Request, { op: typeof Op.HELLO }>, end: LinkEnd | undefined): Response | undefined => {
    const qp = options.findQp(peer!.dstQpn);
    // No such QP, not ready, or not connected to this peer: a real HCA drops the packet.
    return qp && qp.acceptsFrom(peer!.srcGid, peer!.srcQpn)
      ? respond(qp, request, options.onAccessError, end)
      : { op: Op.NAK, psn: request.psn, code: Nak.DROPPED, rnrTimer: 0 };
  };
  const reader = new PacketReader((packet) => {
    if (packet.op === Op.HELLO) {
      peer = { srcQpn: packet.srcQpn, dstQpn: packet.dstQpn, srcGid: packet.srcGid };
      const qp = options.findQp(packet.dstQpn);
      if (packet.offer) link = accept(socket, packet.offer, options.hub(), qp, peer, (end) => (p) => {
        // A packet on the link: the same requests as on the socket, answered on the link.
        if (!isRequest(p)) return;
        const response = execute(p, end);
        if (response) end.send(response);
      });
      return;
    }
    if (!peer || !isRequest(packet)) return drop();
    const response = execute(packet, undefined);
    if (response && !socket.destroyed) socket.write(encode(response));
  });
  socket.on('error', () => {
    // The requester went away; it will notice on its side.
  });
  socket.on('close', () => {
    link?.close();
    link = undefined;
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

function isRequest(p: Packet): p is Exclude<Request, { op: typeof Op.HELLO }> {
  return p.op >= Op.SEND && p.op <= Op.READ_CMA;
}

/**
 * Answers a HELLO's offer: maps the requester's segment and polls the link from the device's hub,
 * or refuses (the requester then stays on the socket). While the link is up it shows the
 * requester what `qp` allows, so the requester can execute RDMA against our published regions.
 */
function accept(
  socket: Socket,
  offer: ShmOffer,
  hub: ShmHub | undefined,
  qp: SoftQp | undefined,
  peer: { readonly srcGid: string; readonly srcQpn: number },
  handler: (end: LinkEnd) => (p: Packet) => void,
): { close(): void } | undefined {
  const end = hub ? attachLink(hub, offer) : undefined;
  if (!hub || !end) {
    socket.write(encode({ op: Op.ACCEPT, ok: false, pid: process.pid, doorbellFd: 0, mrTableFd: 0, mrTableSize: 0 }));
    return undefined;
  }
  const deliver = handler(end);
  // Take a request only with room for its answer: its execution cannot be undone.
  const more = (): boolean => end.canAnswer();
  const polled: PolledEnd = { end, poll: () => end.drain(deliver, more) };
  const publish = (): void => {
    const ready = !!qp && !qp.destroyed && qp.acceptsFrom(peer.srcGid, peer.srcQpn);
    end.publishQp(ready, qp?.attrs.qpAccess ?? 0, qp?.pd.id ?? 0);
  };
  qp?.watchers.add(publish);
  publish();
  hub.add(polled);
  const table = hub.mrTable;
  const { pid } = process;
  socket.write(encode({ op: Op.ACCEPT, ok: true, pid, doorbellFd: hub.doorbellFd, mrTableFd: table.fd, mrTableSize: table.size }));
  return {
    close: () => {
      qp?.watchers.delete(publish);
      end.publishQp(false, 0, 0);
      hub.remove(polled);
    },
  };
}

/**
 * Executes one request on `qp` (in RTR or RTS). Returns undefined for a request to drop: one
 * past the expected PSN, sent before the requester rewound after an RNR NAK. The *_CMA requests
 * name the requester's memory, reached through `peer` (the link they came by).
 */
export function respond(
  qp: SoftQp,
  r: Exclude<Request, { op: typeof Op.HELLO }>,
  onAccessError: (qp: SoftQp) => void,
  peer?: LinkEnd,
): Response | undefined {
  const d = psnDiff(r.psn, qp.attrs.rqPsn);
  if (d > 0) return undefined;
  const isRead = r.op === Op.READ || r.op === Op.READ_CMA;
  if (d < 0) {
    // A duplicate (the requester lost its connection after we executed the request but before
    // our answer reached it, and retransmitted): already executed; answer again. Reads are
    // idempotent and are simply served again.
    if (!isRead) return { op: Op.ACK, psn: r.psn };
  }
  const advance = (): void => {
    if (d === 0) qp.attrs.rqPsn = (qp.attrs.rqPsn + 1) & 0xff_ffff;
  };

  switch (r.op) {
    case Op.SEND:
    case Op.SEND_CMA: {
      const wr = qp.rq.shift();
      if (!wr) return { op: Op.NAK, psn: r.psn, code: Nak.RNR, rnrTimer: qp.attrs.minRnrTimer };
      const length = r.op === Op.SEND ? r.payload.length : r.length;
      let fault: ReturnType<typeof qp.mrs.scatter>;
      try {
        fault =
          r.op === Op.SEND
            ? qp.mrs.scatter(qp.pd, wr.sges, r.payload)
            : qp.mrs.scatterFrom(qp.pd, wr.sges, length, (dst, at) => peer!.readPeer(r.src + BigInt(at), dst));
      } catch {
        // The requester's memory could not be read (it exited, or unmapped it): as a bad packet.
        fault = 'ACCESS';
      }
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
      qp.completeRecv(wr.id, 'SUCCESS', length);
      advance();
      return { op: Op.ACK, psn: r.psn };
    }
    default: {
      const need = isRead ? Access.REMOTE_READ : Access.REMOTE_WRITE;
      const length = r.op === Op.WRITE ? r.payload.length : r.length;
      const window = qp.attrs.qpAccess & need ? qp.mrs.resolve(r.rkey, qp.pd, r.addr, length, need) : 'ACCESS';
      if (typeof window === 'string') {
        // Bad rkey, wrong PD, missing right or out of bounds: NAK, and this QP goes to ERROR too.
        qp.enterError();
        onAccessError(qp);
        return { op: Op.NAK, psn: r.psn, code: Nak.REM_ACCESS, rnrTimer: 0 };
      }
      try {
        if (r.op === Op.WRITE_CMA) peer!.readPeer(r.src, window.bytes);
        else if (r.op === Op.READ_CMA) peer!.writePeer(r.dst, window.bytes);
      } catch {
        // The requester's side of the transfer is gone (its process exited or unmapped it).
        qp.enterError();
        return { op: Op.NAK, psn: r.psn, code: Nak.REM_OP, rnrTimer: 0 };
      }
      advance();
      switch (r.op) {
        case Op.WRITE:
          window.bytes.set(r.payload);
          return { op: Op.ACK, psn: r.psn };
        case Op.WRITE_CMA:
          return { op: Op.ACK, psn: r.psn };
        case Op.READ_CMA:
          return { op: Op.READ_DONE, psn: r.psn, length };
        default:
          return { op: Op.READ_RESP, psn: r.psn, payload: window.bytes };
      }
    }
  }
}
