import { createConnection, type Socket } from 'node:net';
import { Access, ackTimeoutMs, PSN_MASK, RNR_TIMER_MS } from '../constants.js';
import type { SendWorkRequest, Sge, WcOpcode, WcStatus } from '../types.js';
import type { SoftQp } from './qp.js';
import type { SmAddon } from '@switchyard/btl-sm/shm';
import type { PolledEnd, ShmHub } from './shm-hub.js';
import { connectLink, type PendingLink } from './shm-connect.js';
import { INLINE_LIMIT, type LinkEnd } from './shm-link.js';
import { encode, Nak, Op, PacketReader, type Accept, type Packet, type Request, type Response } from './wire.js';

interface SqEntry {
  readonly wr: SendWorkRequest;
  readonly psn: number;
  /** RNR NAKs this request may still take (rnr_retry; 7 = forever). */
  rnrLeft: number;
  /** Transport retries (timeouts, lost peer) it may still take (retry_cnt). */
  retryLeft: number;
  /**
   * The local bytes a CMA request names by address (the gathered source, or the read target):
   * held here so they stay where the peer reads or writes them until the request completes.
   */
  held?: Uint8Array;
  /** An RDMA read into several SGEs lands in `held` first, then is scattered. */
  bounced?: boolean;
  /**
   * RDMA reads posted after this request and done directly (see #direct) while it was
   * outstanding: their completions follow its own, so the send queue still completes in order.
   */
  followers?: SendWorkRequest[];
}

const RNR_FOREVER = 7;

/**
 * The send side of an RC QP: transmits posted requests in order over one socket to the peer's
 * device, matches each response to the oldest outstanding request, and retries the way an HCA
 * does (go-back-N): after an RNR NAK it waits the responder's RNR timer, after a lost peer or a
 * dropped packet its own ack timeout, then retransmits from the failed request on; when the
 * counters run out the request completes with RNR_RETRY_EXC_ERR or RETRY_EXC_ERR and the QP goes
 * to ERROR.
 *
 * The wire is a pair of shared-memory rings when both processes can share memory (the HELLO on
 * the socket offers a segment, the responder's ACCEPT takes it), else the socket itself; the
 * socket stays open either way, and its closing is the lost peer.
 *
 * A slow answer is never a timeout: an HCA acknowledges in hardware even while its host is busy,
 * whereas the soft "HCA" of a peer answers from that process's event loop. Counting a peer busy
 * in a long computation as lost would fail connections no real fabric would fail. The stream
 * loses nothing, so only a NAK or a broken connection starts a transport retry.
 */
export class Requester {
  /** Posted, not completed, in order; the first #sent of them are on the wire. */
  #queue: SqEntry[] = [];
  #sent = 0;
  /** Reads done directly that wait, as followers, for the completion of a request before them. */
  #passed = 0;
  #socket?: Socket;
  /** The shared-memory link: offered and waiting for ACCEPT, then up. */
  #pending?: PendingLink;
  #link?: { readonly end: LinkEnd; readonly polled: PolledEnd; readonly hub: ShmHub };
  /** False while the HELLO's offer waits for its answer: nothing is transmitted yet. */
  #ready = false;
  #timer?: NodeJS.Timeout;
  /** Backing off after an RNR NAK or a transport retry: transmit nothing until the timer fires. */
  #backingOff = false;

  constructor(private readonly qp: SoftQp) {}

  get outstanding(): number {
    return this.#queue.length + this.#passed;
  }

  post(wr: SendWorkRequest): void {
    // An RDMA request the published table can serve is done now, when nothing before it is
    // outstanding, or (a read) when only sends are: see #mayPass.
    if (wr.opcode !== 'SEND' && this.#mayPass(wr) && this.#direct(wr)) return;
    const a = this.qp.attrs;
    this.#queue.push({ wr, psn: a.sqPsn, rnrLeft: a.rnrRetry, retryLeft: a.retryCnt });
    a.sqPsn = (a.sqPsn + 1) & PSN_MASK;
    this.pump();
  }

  /**
   * Whether `wr` may be done before what is outstanding completes. Anything may when nothing is.
   * A read may pass sends the responder has not acknowledged yet (its ACKs come from its event
   * loop, and a receiver that sends an ACK per rendezvous would otherwise put every next read
   * behind one, served by that loop instead of directly): a send lands in a receive buffer of the
   * responder's, which a read of a registered region does not observe in any use a consumer
   * makes of RC. Nor may the read land in bytes such a send still takes its payload from (the
   * HCA reads them when it transmits, and again on a retransmission, before any read behind the
   * send is answered). A read never passes a write (it could read what the write changes) nor
   * another read (their targets could overlap), and its completion still waits for the sends
   * before it.
   */
  #mayPass(wr: SendWorkRequest): boolean {
    if (this.#queue.length === 0) return true;
    if (wr.opcode !== 'RDMA_READ') return false;
    const targets = this.#views(wr.sges);
    return (
      targets !== undefined &&
      this.#queue.every((entry) => {
        if (entry.wr.opcode !== 'SEND') return false;
        const sources = this.#views(entry.wr.sges);
        return sources !== undefined && !sources.some((a) => targets.some((b) => overlap(a, b)));
      })
    );
  }

  /** The local bytes a scatter/gather list names; undefined when one does not resolve. */
  #views(sges: readonly Sge[]): Uint8Array[] | undefined {
    const views: Uint8Array[] = [];
    for (const s of sges) {
      const w = this.qp.mrs.resolve(s.lkey, this.qp.pd, s.addr, s.length, 0);
      if (typeof w === 'string') return undefined;
      views.push(w.bytes);
    }
    return views;
  }

  /**
   * Executes an RDMA read or write the way an HCA does, without the responder's CPU: checks the
   * rkey, PD, rights and bounds in the responder's published table and what its QP allows, then
   * moves the bytes with one CMA call. False when anything is not plainly fine (no link or table,
   * the peer QP not ready, a fault, a failed copy): the request then goes to the responder, which
   * executes it and answers with the right NAK and state changes. Needs no PSN: the responder
   * never sees it, and nothing posted before it is outstanding, so RC's order holds.
   */
  #direct(wr: SendWorkRequest): boolean {
    const end = this.#link?.end;
    const regions = end?.peerRegions;
    if (!end || !regions || !this.#ready || this.#backingOff || this.qp.state !== 'RTS' || !wr.remote) return false;
    const peer = end.peerQp();
    const read = wr.opcode === 'RDMA_READ';
    const need = read ? Access.REMOTE_READ : Access.REMOTE_WRITE;
    if (!peer.ready || (peer.access & need) === 0) return false;
    let local: Uint8Array;
    let bounced = false;
    if (!read) {
      const payload = this.qp.mrs.gather(this.qp.pd, wr.sges);
      if (typeof payload === 'string') return false;
      local = payload;
    } else if (wr.sges.length === 1) {
      const target = this.qp.mrs.target(this.qp.pd, wr.sges[0]!);
      if (typeof target === 'string') return false;
      local = target;
    } else {
      local = new Uint8Array(readLength(wr));
      bounced = true;
    }
    try {
      const copy = (real: bigint): void => (read ? end.readPeer(real, local) : end.writePeer(real, local));
      if (regions.access(wr.remote.rkey, peer.pdId, need, wr.remote.addr, local.length, copy)) return false;
    } catch {
      return false;
    }
    if (bounced && this.qp.mrs.scatter(this.qp.pd, wr.sges, local)) return false;
    this.#link!.hub.directRdma++;
    const last = this.#queue[this.#queue.length - 1];
    if (last) {
      (last.followers ??= []).push(wr);
      this.#passed++;
    } else if (wr.signaled !== false) this.qp.completeSend(wr.id, 'SUCCESS', OPCODES[wr.opcode], read ? local.length : 0);
    return true;
  }

  /** Transmits whatever is queued and not yet on the wire (in RTS, unless backing off). */
  pump(): void {
    if (this.qp.state !== 'RTS' || this.#backingOff) return;
    if (this.#sent >= this.#queue.length) return;
    this.#connect();
    if (!this.#ready) return;
    const end = this.#link?.end;
    while (this.#sent < this.#queue.length) {
      const entry = this.#queue[this.#sent]!;
      const packet = this.#packetFor(entry, this.#link?.hub.addon);
      if (!packet) return; // local protection error: the QP is in ERROR now
      if (end) {
        if (!end.send(packet)) return; // no room: the hub's poll pumps again
      } else this.#socket!.write(encode(packet));
      this.#sent++;
    }
    this.qp.hub()?.kick();
  }

  /** The request for `entry`; with `cma` (the link is up), large payloads go by address. */
  #packetFor(entry: SqEntry, cma: SmAddon | undefined): Request | undefined {
    const { wr, psn } = entry;
    if (wr.opcode === 'RDMA_READ') {
      const length = readLength(wr);
      const remote = { addr: wr.remote!.addr, rkey: wr.remote!.rkey };
      if (!cma) return { op: Op.READ, psn, ...remote, length };
      // The responder writes straight into our memory: check the target now, as the HCA does
      // when it builds the request; several SGEs get one bounce buffer, scattered on completion.
      let target: Uint8Array;
      if (wr.sges.length === 1) {
        const t = this.qp.mrs.target(this.qp.pd, wr.sges[0]!);
        if (typeof t === 'string') return this.#localFault(entry);
        target = t;
      } else {
        target = new Uint8Array(length);
        entry.bounced = true;
      }
      entry.held = target;
      return { op: Op.READ_CMA, psn, ...remote, length, dst: cma.addressOf(target) };
    }
    // The HCA reads the source memory when it transmits (and again on a retransmission).
    const payload = this.qp.mrs.gather(this.qp.pd, wr.sges);
    if (typeof payload === 'string') return this.#localFault(entry);
    if (cma && payload.length > INLINE_LIMIT) {
      entry.held = payload;
      const src = cma.addressOf(payload);
      return wr.opcode === 'SEND'
        ? { op: Op.SEND_CMA, psn, length: payload.length, src }
        : { op: Op.WRITE_CMA, psn, addr: wr.remote!.addr, rkey: wr.remote!.rkey, length: payload.length, src };
    }
    return wr.opcode === 'SEND'
      ? { op: Op.SEND, psn, payload }
      : { op: Op.WRITE, psn, addr: wr.remote!.addr, rkey: wr.remote!.rkey, payload };
  }

  #localFault(entry: SqEntry): undefined {
    this.qp.fail('LOC_PROT_ERR', this.#queue.indexOf(entry));
    return undefined;
  }

  /** Opens the connection (socket, and the shared-memory offer) if there is none. */
  #connect(): void {
    if (this.#socket) return;
    const socket = createConnection(this.qp.peerSocketPath());
    // Liveness of the process is the CQs' business (ref/unref), not the connection's.
    socket.unref();
    socket.setNoDelay?.(true);
    const reader = new PacketReader((packet) => {
      if (this.#socket !== socket) return reader.halt();
      if (packet.op === Op.ACCEPT) this.#accepted(packet);
      else this.#onResponse(packet as Response);
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {
      // 'close' follows and handles it.
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#disconnect();
      // The peer device is gone (reset, closed, process died) or was never there. A real HCA
      // sees no acks and retries until retry_cnt runs out.
      if (this.#sent > 0 || (this.#queue.length > 0 && !this.#backingOff)) this.#transportRetry();
    });
    const hub = this.qp.hub();
    this.#pending = hub ? connectLink(hub, this.qp.qpn) : undefined;
    const hello: Packet = {
      op: Op.HELLO,
      srcQpn: this.qp.qpn,
      dstQpn: this.qp.attrs.remoteQpn,
      srcGid: this.qp.localGid(),
      ...(this.#pending ? { offer: this.#pending.offer } : {}),
    };
    socket.write(encode(hello));
    this.#socket = socket;
    this.#ready = !this.#pending;
  }

  /** The responder answered the offer: from now on the wire is the link (or stays the socket). */
  #accepted(a: Accept): void {
    const pending = this.#pending;
    if (!pending || this.#ready) return;
    this.#pending = undefined;
    const end = a.ok ? pending.accept(a) : pending.refuse();
    if (end) {
      const polled: PolledEnd = { end, poll: () => this.#poll(end) };
      this.#link = { end, polled, hub: pending.hub };
      pending.hub.add(polled);
    }
    this.#ready = true;
    this.pump();
  }

  /** The hub's poll of our link: answers, then whatever waited for room. */
  #poll(end: LinkEnd): number {
    const n = end.drain((p) => this.#onResponse(p as Response));
    if (end.blocked && this.#link?.end === end) this.pump();
    return n;
  }

  #disconnect(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    this.#pending?.refuse();
    this.#pending = undefined;
    const link = this.#link;
    this.#link = undefined;
    link?.hub.remove(link.polled);
    socket?.destroy();
  }

  #onResponse(r: Response): void {
    const head = this.#queue[0];
    // Only the oldest request on the wire can be answered next; anything else is a stale answer
    // to a request we already rewound past.
    if (!head || this.#sent === 0 || r.psn !== head.psn) return;
    switch (r.op) {
      case Op.ACK:
        if (head.wr.opcode !== 'RDMA_READ') this.#complete('SUCCESS', 0);
        return;
      case Op.READ_RESP:
      case Op.READ_DONE: {
        if (head.wr.opcode !== 'RDMA_READ') return;
        const data = r.op === Op.READ_RESP ? r.payload : head.bounced ? head.held! : undefined;
        const fault = data ? this.qp.mrs.scatter(this.qp.pd, head.wr.sges, data) : undefined;
        if (fault) this.qp.fail(fault === 'LENGTH' ? 'LOC_LEN_ERR' : 'LOC_PROT_ERR');
        else this.#complete('SUCCESS', r.op === Op.READ_RESP ? r.payload.length : r.length);
        return;
      }
      case Op.NAK:
        switch (r.code) {
          case Nak.RNR:
            if (head.rnrLeft !== RNR_FOREVER) {
              if (head.rnrLeft === 0) return this.qp.fail('RNR_RETRY_EXC_ERR');
              head.rnrLeft--;
            }
            return this.#rewind(RNR_TIMER_MS[r.rnrTimer] ?? RNR_TIMER_MS[0]);
          case Nak.REM_ACCESS:
            return this.qp.fail('REM_ACCESS_ERR');
          case Nak.REM_INV_REQ:
            return this.qp.fail('REM_INV_REQ_ERR');
          case Nak.REM_OP:
            return this.qp.fail('REM_OP_ERR');
          default:
            return this.#transportRetry();
        }
    }
  }

  #transportRetry(): void {
    const head = this.#queue[0];
    if (!head) return;
    if (head.retryLeft === 0) return this.qp.fail('RETRY_EXC_ERR');
    head.retryLeft--;
    this.#rewind(ackTimeoutMs(this.qp.attrs.timeout));
  }

  /** Go-back-N: forget what is on the wire, wait `ms`, then retransmit from the oldest request. */
  #rewind(ms: number): void {
    this.#sent = 0;
    this.#backingOff = true;
    this.#clearTimer();
    // An infinite ack timeout (timeout 0) still has to retry a lost peer sometime: use 1 s.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#backingOff = false;
      this.pump();
    }, Number.isFinite(ms) ? ms : 1000);
    this.#timer.unref();
  }

  #complete(status: WcStatus, byteLen: number): void {
    const entry = this.#queue.shift()!;
    this.#sent--;
    this.#clearTimer();
    if (entry.wr.signaled !== false) this.qp.completeSend(entry.wr.id, status, OPCODES[entry.wr.opcode], byteLen);
    this.#passed -= entry.followers?.length ?? 0;
    for (const read of entry.followers ?? []) {
      if (read.signaled !== false) this.qp.completeSend(read.id, 'SUCCESS', 'RDMA_READ', readLength(read));
    }
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The QP went to ERROR: the request at `failed` (the oldest, unless a later one failed before
   * it was transmitted) completes with `status`, every other one with WR_FLUSH_ERR, signaled or
   * not, in posting order.
   */
  flush(status?: WcStatus, failed = 0): void {
    const queue = this.#queue;
    this.reset();
    queue.forEach((entry, i) => {
      this.qp.completeSend(entry.wr.id, i === failed && status ? status : 'WR_FLUSH_ERR', undefined, 0);
      // Done already, but posted after work that failed: flushed, as the HCA would have.
      for (const read of entry.followers ?? []) this.qp.completeSend(read.id, 'WR_FLUSH_ERR', undefined, 0);
    });
  }

  /** Drops everything without completions (RESET, destroy) and closes the connection. */
  reset(): void {
    this.#queue = [];
    this.#sent = 0;
    this.#passed = 0;
    this.#backingOff = false;
    this.#clearTimer();
    this.#disconnect();
  }
}

function overlap(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

/** The bytes a read's scatter list takes. */
function readLength(wr: SendWorkRequest): number {
  let length = 0;
  for (const s of wr.sges) length += s.length;
  return length;
}

const OPCODES: Readonly<Record<SendWorkRequest['opcode'], WcOpcode>> = { SEND: 'SEND', RDMA_WRITE: 'RDMA_WRITE', RDMA_READ: 'RDMA_READ' };
