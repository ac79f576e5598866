import { BtlTag, type Bml, type BmlBtl, type BmlEndpoint } from '@switchyard/core-bml';
import {
  ctxOf,
  FRAG_HEADER,
  FragType,
  get32,
  get64,
  MATCH_HEADER,
  RNDV_HEADER,
  seqOf,
  tagOf,
  writeAck,
  writeFrag,
  writeMatch,
  writeRndv,
} from './header.js';
import { Arrival } from './arrival.js';
import { ANY_SOURCE, ANY_TAG, Matcher, RecvRequest, type Incoming } from './matching.js';
import { MessagePool } from './message-pool.js';
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
  /** Per destination: ACKs waiting for a transport (rare: only while a peer has none). */
  readonly #controls: Array<Uint8Array[] | undefined> = [];
  readonly #progressing: boolean[];
  readonly #sends = new Map<number, SendRequest>();
  readonly #recvs = new Map<number, RecvRequest>();
  /** Where arrived payloads are copied (a module's buffer is valid only during the callback). */
  readonly #pool = new MessagePool();
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
    const queue = this.#queues[dest]!;
    // Nothing waits ahead of it: issue the first fragment now, without a trip through the queue.
    if (queue.length === 0 && !this.#progressing[dest] && !this.#controls[dest] && this.#issueNow(req)) return req;
    queue.push(req);
    this.#progress(dest);
    return req;
  }

  /** Issues the first fragment of a request no other waits ahead of; false if it has to queue. */
  #issueNow(req: SendRequest): boolean {
    const peer = this.bml.endpoints[req.dest]!;
    if (!peer.reachable()) return false;
    this.#progressing[req.dest] = true;
    try {
      return this.#issueFirst(req, peer);
    } finally {
      this.#progressing[req.dest] = false;
    }
  }

  /**
   * Posts a receive (MPI_Irecv); `wait()` resolves with the message. With `into`, the message is
   * received into that buffer (its `data` is a view of it) instead of a new one: no allocation,
   * and memory the caller reuses stays warm. A message larger than `into` is consumed and the
   * receive fails (MPI_ERR_TRUNCATE).
   */
  irecv(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD, into?: Uint8Array): Request<Message> {
    if (source !== ANY_SOURCE) this.#checkRank(source, 'source');
    if (tag !== ANY_TAG && (!Number.isInteger(tag) || tag < 0 || tag > MAX_TAG)) {
      throw new RangeError(`tag must be ANY_TAG or an integer from 0 to ${MAX_TAG}, got ${tag}`);
    }
    if (into !== undefined && !(into instanceof Uint8Array)) throw new TypeError('into must be a Uint8Array (or Buffer)');
    const recv = new RecvRequest(source, tag);
    recv.into = into;
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
    if (this.#controls[dest]) this.#sendWaitingControls(dest);
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
    const sent = (req.sentByBtl ??= new Map());
    const btl = peer.nextStripe(sent, req.offset);
    if (!btl) return false;
    const length = Math.min(req.data.length - req.offset, btl.module.maxSendSize - FRAG_HEADER);
    const offset = req.offset;
    req.offset += length;
    sent.set(btl, (sent.get(btl) ?? 0) + length);
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
    if (!btl) {
      // No transport right now (a restart re-wiring its only one): `endpointChanged` sends it.
      (this.#controls[peer.rank] ??= []).push(header);
      return;
    }
    btl.send(PML_TAG, [header]);
  }

  /** Sends the control messages that waited for a transport to `dest`, if one is back. */
  #sendWaitingControls(dest: number): void {
    const waiting = this.#controls[dest];
    const peer = this.bml.endpoints[dest]!;
    if (!waiting?.length || !peer.eager.length) return;
    this.#controls[dest] = undefined;
    for (const header of waiting) this.#sendControl(peer, header);
  }

  // --- receiving -----------------------------------------------------------------------------

  #onFragment(peer: BmlEndpoint, data: Uint8Array): void {
    switch (data[0] as FragType) {
      case FragType.MATCH:
        this.#arrive(new Arrival(peer.rank, tagOf(data), data.length - MATCH_HEADER, data, MATCH_HEADER, undefined));
        return;
      case FragType.RNDV:
        this.#arrive(new Arrival(peer.rank, tagOf(data), get64(data, 16), data, RNDV_HEADER, get32(data, 12)));
        return;
      case FragType.ACK: {
        const req = this.#sends.get(get32(data, 4));
        if (!req) return;
        req.recvReq = get32(data, 8);
        req.awaitingAck = false;
        this.#queues[req.dest]!.push(req);
        this.#progress(req.dest);
        return;
      }
      case FragType.FRAG: {
        const id = get32(data, 4);
        const recv = this.#recvs.get(id);
        if (!recv) return;
        const buffer = recv.buffer!;
        buffer.set(data.subarray(FRAG_HEADER), get64(data, 8));
        recv.received += data.length - FRAG_HEADER;
        if (recv.received >= buffer.length) {
          this.#recvs.delete(id);
          if (recv.truncated) recv.fail(truncation(buffer.length, recv.into!));
          else recv.complete({ data: buffer, source: recv.matchedSource, tag: recv.matchedTag });
        }
        return;
      }
      default:
        this.bml.host.log(`pml: unknown fragment type ${data[0]} from rank ${peer.rank}; dropped`);
    }
  }

  /** A MATCH or RNDV header: match it, and copy its payload out if it has to wait. */
  #arrive(m: Arrival): void {
    const data = m.data;
    this.#matchers[ctxOf(data)]!.arrive(seqOf(data), m);
    if (!m.bound) m.keep(this.#pool);
  }

  #bind(recv: RecvRequest, incoming: Incoming): void {
    const m = incoming as Arrival;
    m.bound = true;
    const into = recv.into;
    if (into && m.size > into.length) recv.truncated = true;
    if (m.sendReq === undefined) {
      if (recv.truncated) {
        recv.fail(truncation(m.size, into!));
      } else if (into) {
        const out = into.subarray(0, m.size);
        m.copyTo(out);
        recv.complete({ data: out, source: m.source, tag: m.tag });
      } else {
        recv.complete({ data: m.payload(this.#pool), source: m.source, tag: m.tag });
      }
      return;
    }
    // A rendezvous that does not fit is still received (the sender completes), then dropped.
    recv.buffer = into && !recv.truncated ? into.subarray(0, m.size) : Buffer.allocUnsafeSlow(m.size);
    m.copyTo(recv.buffer);
    recv.received = m.length;
    recv.matchedSource = m.source;
    recv.matchedTag = m.tag;
    const id = this.#nextId++;
    this.#recvs.set(id, recv);
    this.#sendControl(this.bml.endpoints[m.source]!, writeAck(m.sendReq, id));
  }

  // --- progress --------------------------------------------------------------------------------

  #track(req: Request<any>): void {
    this.#outstanding += 1;
    req.onSettled = this.#untrack;
    if (this.#busyPoll && !this.#spinning) {
      this.#spinning = true;
      setImmediate(this.#spin);
    }
  }

  readonly #untrack = (): void => {
    this.#outstanding -= 1;
  };

  /**
   * Keeps libuv polling with a zero timeout while work is outstanding: latency for a core. A
   * pending immediate makes the loop poll without blocking; the chain ends when nothing is left.
   */
  readonly #spin = (): void => {
    if (this.#outstanding === 0) {
      this.#spinning = false;
      return;
    }
    setImmediate(this.#spin);
  };

  #checkRank(rank: number, what: string): void {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new RangeError(`${what} rank must be an integer from 0 to ${this.size - 1}, got ${rank}`);
    }
  }
}

/** MPI_ERR_TRUNCATE: the message was larger than the buffer the receive gave. */
function truncation(size: number, into: Uint8Array): RangeError {
  return new RangeError(`message of ${size} bytes does not fit the ${into.length}-byte receive buffer (MPI_ERR_TRUNCATE)`);
}
