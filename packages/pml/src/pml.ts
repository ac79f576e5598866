import { BtlTag, type Bml, type BmlBtl, type BmlEndpoint } from '@switchyard/core-bml';
import {

  FRAG_HEADER,
  FragType,
  MATCH_HEADER,
  readMatch,
  RNDV_HEADER,
  view,
  writeAck,
  writeFrag,
  writeMatch,
  writeRndv,
} from './header.js';
import { ANY_SOURCE, ANY_TAG, Matcher, RecvRequest, type Incoming } from './matching.js';
import type { Message, ProbeResult, Request } from './request.js';
import { SendRequest } from './send-request.js';

/** The active-message tag of the PML's fragments. */
export const PML_TAG = BtlTag.PML_BASE;
/** Matching contexts: applications' point-to-point traffic and the collectives' own. */
export const CTX_WORLD = 0;
export const CTX_COLLECTIVE = 1;
const CONTEXTS = 2;
const MAX_TAG = 0x7fffffff;

export interface PmlOptions {
  /** Keep the event loop polling while requests are outstanding (Open MPI's busy progress). */
  readonly busyPoll?: boolean;
  readonly log?: (message: string) => void;
}

/**
 * Point-to-point messaging with MPI semantics over the BML (Open MPI's ob1): eager sends for
 * small messages, rendezvous for large ones with the rest striped over the peer's send list by
 * bandwidth, and per-peer sequence numbers so fragments may take any module.
 */
export class Pml {
  readonly rank: number;
  readonly size: number;
  readonly #matchers: Matcher[];
  readonly #nextSeq: Uint32Array;
  /** Per destination: requests with fragments to issue, served round-robin. */
  readonly #queues: SendRequest[][];
  readonly #progressing: boolean[];
  readonly #sends = new Map<number, SendRequest>();
  readonly #recvs = new Map<number, RecvRequest>();
  #nextId = 1;
  #outstanding = 0;
  #spinning = false;
  readonly #busyPoll: boolean;

  constructor(
    readonly bml: Bml,
    options: PmlOptions = {},
  ) {
    this.rank = bml.rank;
    this.size = bml.size;
    this.#busyPoll = options.busyPoll ?? false;
    this.#matchers = Array.from({ length: CONTEXTS }, () => new Matcher(this.size, (recv, m) => this.#bind(recv, m)));
    this.#nextSeq = new Uint32Array(this.size * CONTEXTS);
    this.#queues = Array.from({ length: this.size }, () => []);
    this.#progressing = new Array(this.size).fill(false);
    bml.register(PML_TAG, (peer, data) => this.#onFragment(peer, data));
    // New room on a module, or a peer's lists changed (module added, switched): issue what waits.
    bml.hooks.writable.tap('pml', (btl) => this.#progress(btl.rank));
    bml.hooks.endpointChanged.tap('pml', (endpoint) => this.#progress(endpoint.rank));
  }

  /** Starts sending `data` to `dest` (MPI_Isend); `wait()` resolves when `data` may be reused. */
  isend(data: Uint8Array, dest: number, tag: number, ctx = CTX_WORLD): Request<void> {
    this.#checkRank(dest, 'destination');
    if (!Number.isInteger(tag) || tag < 0 || tag > MAX_TAG) throw new RangeError(`tag must be an integer from 0 to ${MAX_TAG}, got ${tag}`);
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array (or Buffer)');
    const slot = dest * CONTEXTS + ctx;
    const seq = this.#nextSeq[slot]!;
    this.#nextSeq[slot] = (seq + 1) >>> 0;
    const req = new SendRequest(this.#nextId++, data, dest, ctx, tag, seq);
    this.#track(req);
    this.#queues[dest]!.push(req);
    this.#progress(dest);
    return req;
  }

  /** Posts a receive (MPI_Irecv); `wait()` resolves with the message. */
  irecv(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD): Request<Message> {
    if (source !== ANY_SOURCE) this.#checkRank(source, 'source');
    if (tag !== ANY_TAG && (!Number.isInteger(tag) || tag < 0 || tag > MAX_TAG)) {
      throw new RangeError(`tag must be ANY_TAG or an integer from 0 to ${MAX_TAG}, got ${tag}`);
    }
    const recv = new RecvRequest(source, tag);
    this.#track(recv);
    this.#matchers[ctx]!.post(recv);
    return recv;
  }

  /** MPI_Iprobe: a message that a receive with these arguments would get now, if any. */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD): ProbeResult | undefined {
    return this.#matchers[ctx]!.probe(source, tag);
  }

  /** MPI_Probe: waits until such a message is there. */
  probe(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD): Promise<ProbeResult> {
    return this.#matchers[ctx]!.waitProbe(source, tag);
  }

  /** Requests not complete yet (sends and receives). */
  get outstanding(): number {
    return this.#outstanding;
  }

  pending() {
    return { outstanding: this.#outstanding, matching: this.#matchers.map((m) => m.pending()) };
  }

  // --- sending -------------------------------------------------------------------------------

  /** Issues fragments to `dest` while its modules take them; safe to call at any time, re-entrantly. */
  #progress(dest: number): void {
    if (this.#progressing[dest]) return;
    this.#progressing[dest] = true;
    try {
      const queue = this.#queues[dest]!;
      const peer = this.bml.endpoints[dest]!;
      while (queue.length) {
        const req = queue[0]!;
        // No transport right now (a restart re-wiring its only one): wait for `endpointChanged`.
        if (!peer.reachable()) return;
        const issued = req.headerSent ? this.#issueFrag(req, peer) : this.#issueFirst(req, peer);
        if (!issued) return; // every candidate module is full: `writable` resumes us
        queue.shift();
        // A rendezvous still streaming goes to the back: small messages interleave with it.
        if (!req.issuedAll && !req.awaitingAck) queue.push(req);
      }
    } finally {
      this.#progressing[dest] = false;
    }
  }

  #issueFirst(req: SendRequest, peer: BmlEndpoint): boolean {
    const btl = peer.nextEager();
    if (!btl) return false;
    const { eagerLimit, maxSendSize } = btl.module;
    const total = req.data.length;
    if (MATCH_HEADER + total <= Math.min(eagerLimit, maxSendSize)) {
      req.issuedAll = true;
      this.#sendFragment(req, btl, [writeMatch(req.ctx, req.tag, req.seq), req.data]);
      return true;
    }
    const first = Math.max(0, Math.min(total, Math.min(eagerLimit, maxSendSize) - RNDV_HEADER));
    req.offset = first;
    req.awaitingAck = true;
    this.#sends.set(req.id, req);
    this.#sendFragment(req, btl, [writeRndv(req.ctx, req.tag, req.seq, req.id, total), req.data.subarray(0, first)]);
    return true;
  }

  #issueFrag(req: SendRequest, peer: BmlEndpoint): boolean {
    const btl = peer.nextStripe(req.sentByBtl, req.offset);
    if (!btl) return false;
    const length = Math.min(req.data.length - req.offset, btl.module.maxSendSize - FRAG_HEADER);
    const offset = req.offset;
    req.offset += length;
    req.sentByBtl.set(btl, (req.sentByBtl.get(btl) ?? 0) + length);
    if (req.offset >= req.data.length) {
      req.issuedAll = true;
      this.#sends.delete(req.id);
    }
    this.#sendFragment(req, btl, [writeFrag(req.recvReq, offset), req.data.subarray(offset, offset + length)]);
    return true;
  }

  #sendFragment(req: SendRequest, btl: BmlBtl, segments: Uint8Array[]): void {
    req.outstanding += 1;
    btl.send(PML_TAG, segments, (error) => {
      req.outstanding -= 1;
      if (error) {
        this.#sends.delete(req.id);
        req.fail(new Error(`sending to rank ${req.dest} over ${btl.module.name} failed: ${error.message}`));
        return;
      }
      req.settle();
    });
    req.settle();
  }

  #sendControl(peer: BmlEndpoint, header: Uint8Array): void {
    const btl = peer.nextEager() ?? peer.eager[0];
    if (!btl) throw new Error(`no transport reaches rank ${peer.rank} from rank ${this.rank}`);
    btl.send(PML_TAG, [header]);
  }

  // --- receiving -----------------------------------------------------------------------------

  #onFragment(peer: BmlEndpoint, data: Uint8Array): void {
    const v = view(data);
    switch (v.getUint8(0) as FragType) {
      case FragType.MATCH: {
        const h = readMatch(v);
        this.#matchers[h.ctx]!.arrive(h.seq, { source: peer.rank, tag: h.tag, size: data.length - MATCH_HEADER, data: copy(data, MATCH_HEADER) });
        return;
      }
      case FragType.RNDV: {
        const h = readMatch(v);
        const total = v.getFloat64(16, true);
        this.#matchers[h.ctx]!.arrive(h.seq, { source: peer.rank, tag: h.tag, size: total, data: copy(data, RNDV_HEADER), sendReq: v.getUint32(12, true) });
        return;
      }
      case FragType.ACK: {
        const req = this.#sends.get(v.getUint32(4, true));
        if (!req) return;
        req.recvReq = v.getUint32(8, true);
        req.awaitingAck = false;
        this.#queues[req.dest]!.push(req);
        this.#progress(req.dest);
        return;
      }
      case FragType.FRAG: {
        const recv = this.#recvs.get(v.getUint32(4, true));
        if (!recv) return;
        const offset = v.getFloat64(8, true);
        recv.buffer!.set(data.subarray(FRAG_HEADER), offset);
        recv.received += data.length - FRAG_HEADER;
        if (recv.received >= recv.buffer!.length) {
          this.#recvs.delete(this.#idOf(recv));
          recv.complete({ data: recv.buffer!, source: recv.matchedSource, tag: recv.matchedTag });
        }
        return;
      }
      default:
        this.bml.host.log(`pml: unknown fragment type ${v.getUint8(0)} from rank ${peer.rank}; dropped`);
    }
  }

  #bind(recv: RecvRequest, m: Incoming): void {
    if (m.sendReq === undefined) {
      recv.complete({ data: m.data, source: m.source, tag: m.tag });
      return;
    }
    recv.buffer = Buffer.allocUnsafe(m.size);
    recv.buffer.set(m.data, 0);
    recv.received = m.data.length;
    recv.matchedSource = m.source;
    recv.matchedTag = m.tag;
    const id = this.#nextId++;
    this.#recvs.set(id, recv);
    this.#recvIds.set(recv, id);
    this.#sendControl(this.bml.endpoints[m.source]!, writeAck(m.sendReq, id));
  }

  readonly #recvIds = new WeakMap<RecvRequest, number>();

  #idOf(recv: RecvRequest): number {
    return this.#recvIds.get(recv)!;
  }

  // --- progress --------------------------------------------------------------------------------

  #track(req: Request<any>): void {
    this.#outstanding += 1;
    const done = () => {
      this.#outstanding -= 1;
    };
    req.wait().then(done, done);
    if (this.#busyPoll && !this.#spinning) this.#spin();
  }

  /** Keeps libuv polling with a zero timeout while work is outstanding: latency for a core. */
  #spin(): void {
    if (this.#outstanding === 0) {
      this.#spinning = false;
      return;
    }
    this.#spinning = true;
    setImmediate(() => this.#spin());
  }

  #checkRank(rank: number, what: string): void {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new RangeError(`${what} rank must be an integer from 0 to ${this.size - 1}, got ${rank}`);
    }
  }
}

/** The payload after `offset`, copied out of the module's buffer (valid only during the callback). */
function copy(data: Uint8Array, offset: number): Uint8Array {
  const out = Buffer.allocUnsafe(data.length - offset);
  out.set(data.subarray(offset));
  return out;
}

