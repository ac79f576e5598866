import { performance } from 'node:perf_hooks';
import { SendFailedError } from './send-failed-error.js';
import {
  BtlFlag,
  BtlTag,
  type Bml,
  type BmlBtl,
  type BmlEndpoint,
  type BtlModule,
  type BtlRegistration,
  type PeerLostError,
  type SendCompletion,
} from '@switchyard/core-bml';
import {
  ackdOf,
  ctxOf,
  FRAG_HEADER,
  FragType,
  fseqOf,
  get32,
  get64,
  MATCH_HEADER,
  PUT_HEADER,
  RNDV_HEADER,
  seqOf,
  stamp,
  tagOf,
  writeAck,
  writeFin,
  writeFrag,
  writeMatch,
  writePut,
  writeRack,
  writeRget,
  writeRndv,
} from './header.js';
import { Arrival, type RdmaSource } from './arrival.js';
import { descriptorOf, encodeDescriptor, parseDescriptor, RdmaSourceReader } from './rdma-descriptor.js';
import { Attempt, InboundWindow, OutboundWindow, Retained } from './failover-window.js';
import { ANY_SOURCE, ANY_TAG, Matcher, RecvRequest, type Incoming } from './matching.js';
import { KeepRing } from './keep-ring.js';
import { MessagePool } from './message-pool.js';
import { summarizePml, type PendingEntry, type PmlRdmaStats, type PmlState } from './pml-state.js';
import { RegistrationCache } from './registration-cache.js';
import { SplitPull } from './split-pull.js';
import { RangeSet } from './range-set.js';
import type { Message, ProbeResult, Request } from './request.js';
import { SendRequest } from './send-request.js';
import { MpiError, shown } from './mpi-error.js';
import { Fifo } from '@switchyard/btl-base';

/** The active-message tag of the PML's fragments. */
export const PML_TAG = BtlTag.PML_BASE;
/** Matching contexts: applications' point-to-point traffic and the collectives' own. */
export const CTX_WORLD = 0;
export const CTX_COLLECTIVE = 1;
/** Context ids travel as a u16 in the match header. */
export const MAX_CONTEXT = 0xffff;
const MAX_TAG = 0x7fffffff;
/** Fragments received from a peer without acknowledging them before an acknowledgement is due this turn. */
const ACK_BATCH = 64;
const EMPTY = new Uint8Array(0);
const DEFAULT_SEND_WINDOW = 512;
/**
 * Eager payloads up to this size are copied for failover (into the peer's KeepRing) instead of holding
 * the send open until the peer acknowledges it: copying 16 KiB costs about a microsecond, a
 * standalone acknowledgement a write and a wake-up on both ranks.
 */
const COPY_LIMIT = 16 * 1024;
/** How long the oldest unacknowledged fragment to a peer waits before it is sent again. */
const RETRANSMIT_MS = 250;
/**
 * How long an acknowledgement nobody waits for (see #senderWaits: small eager messages, whose
 * sends completed on a copy, and RNDV, RGET and ACK) may wait for a fragment back to ride on.
 * Well below RETRANSMIT_MS.
 */
const LAZY_ACK_MS = 20;
/** Where a split pull's halves meet is a multiple of this (pages, for the kernel's copy). */
const SPLIT_ALIGN = 4096;
/**
 * How long a receiver whose half is in waits for the sender's put to begin before it takes the
 * second half back, ms. A sender that answers begins within tens of microseconds (a wake-up);
 * one that computes does not answer until it is done, and its receive must not wait for that.
 */
const TAKE_BACK_MS = 1;
/** And at most this many bytes: what failover keeps for one peer stays bounded whatever the sizes. */
const WINDOW_BYTES = 64 * 1024 * 1024;
/**
 * The longest a busy-polling `wait()` polls synchronously before it returns its promise (ms):
 * a few round trips of a small message over shared memory, and short enough that other
 * continuations of the application waiting behind it are not held up noticeably.
 */
const WAIT_POLL_MS = 0.05;

export interface PmlOptions {
  /** Keep the event loop polling while requests are outstanding (Open MPI's busy progress). */
  readonly busyPoll?: boolean;
  /**
   * Keep every fragment until the peer acknowledges it, and send it again over the links that
   * remain when the one it took fails (`pml_failover`; default on).
   */
  readonly failover?: boolean;
  /** Failover: fragments to one peer that may await its acknowledgement (`pml_send_window`). */
  readonly sendWindow?: number;
  /** The first request id: tests start it just below the 32-bit wrap. */
  readonly firstRequestId?: number;
  readonly log?: (message: string) => void;
  /**
   * Held while a request is outstanding or a probe waits, released when none is: what keeps a
   * rank's event loop alive while it waits for a message, as the transports' handles do not.
   */
  readonly keepAlive?: KeepAlive;
}

/** A count of holds on the event loop (the runtime's LoopHold). */
export interface KeepAlive {
  hold(): void;
  release(): void;
}

/**
 * Point-to-point messaging with MPI semantics over the BML (Open MPI's ob1): eager sends for
 * small messages, rendezvous for large ones with the rest striped over the peer's send list by
 * bandwidth, and per-peer sequence numbers so fragments may take any module.
 */
export class Pml {
  readonly rank: number;
  readonly size: number;
  /** Per matching context (a communicator has two: point-to-point and collective), made on first use. */
  readonly #matchers = new Map<number, Matcher>();
  /** Per context: the next sequence number to each destination. */
  readonly #nextSeq = new Map<number, Uint32Array>();
  /** Per destination: requests with fragments to issue, served round-robin. */
  readonly #queues: Fifo<SendRequest>[];
  /** Per destination: ACKs waiting for a transport (rare: only while a peer has none). */
  readonly #controls: Array<Uint8Array[] | undefined> = [];
  readonly #progressing: boolean[];
  readonly #sends = new Map<number, SendRequest>();
  readonly #recvs = new Map<number, RecvRequest>();
  /** Where arrived payloads are copied (a module's buffer is valid only during the callback). */
  readonly #pool = new MessagePool();
  /** Per peer: where the copies of small eager messages wait for its acknowledgement. */
  readonly #keep: KeepRing[];
  #nextId: number;
  #outstanding = 0;
  readonly #keepAlive: KeepAlive | undefined;
  #spinning = false;
  #busyPoll: boolean;
  /** Why busy polling was turned off, once it was (see stopBusyPolling). */
  #busyPollStopped: string | undefined;
  /** A busy-polling wait() is polling (a completion that waits on another request must not nest). */
  #polling = false;
  readonly #failover: boolean;
  readonly #sendWindow: number;
  /** Per peer: our fragments it has not acknowledged. */
  readonly #out: OutboundWindow[];
  /** Per peer: which of its fragments arrived. */
  readonly #in: InboundWindow[];
  /** Per peer: fragments to send again (their link failed), ahead of new ones. */
  readonly #replays: Retained[][];
  /** Peers owed an acknowledgement at the end of this turn of the loop. */
  readonly #ackDue: number[] = [];
  readonly #ackPending: boolean[];
  #ackScheduled = false;
  /** Sends acknowledgements of small eager messages that no fragment back carried meanwhile. */
  #lazyAckTimer: NodeJS.Timeout | undefined;
  #retransmitTimer: NodeJS.Timeout | undefined;
  /** Peers no transport reaches any more, with why. */
  readonly #lost: Array<PeerLostError | undefined>;
  readonly #rcache = new RegistrationCache();
  /** Per link: the completion of sends whose failure only concerns failover (see #sendFailed). */
  readonly #onSendFailed = new WeakMap<BmlBtl, SendCompletion>();
  /** Modules whose sendi threw: not asked again. */
  readonly #sendiBroken = new WeakSet<BtlModule>();
  readonly #rdma = { rgetSent: 0, pulled: 0, pulledBytes: 0, fallbacks: 0, put: 0, putBytes: 0, takenBack: 0 };
  readonly #rdmaSources = new RdmaSourceReader();

  constructor(
    readonly bml: Bml,
    options: PmlOptions = {},
  ) {
    this.rank = bml.rank;
    this.size = bml.size;
    this.#busyPoll = options.busyPoll ?? false;
    this.#keepAlive = options.keepAlive;
    this.#failover = options.failover ?? true;
    this.#sendWindow = options.sendWindow ?? DEFAULT_SEND_WINDOW;
    this.#nextId = options.firstRequestId ?? 1;
    this.#out = Array.from({ length: this.size }, () => new OutboundWindow());
    this.#in = Array.from({ length: this.size }, () => new InboundWindow());
    this.#replays = Array.from({ length: this.size }, () => []);
    this.#keep = Array.from({ length: this.size }, () => new KeepRing());
    this.#ackPending = new Array(this.size).fill(false);
    this.#lost = new Array(this.size).fill(undefined);
    this.#matcher(CTX_WORLD);
    this.#matcher(CTX_COLLECTIVE);
    this.#queues = Array.from({ length: this.size }, () => new Fifo<SendRequest>());
    this.#progressing = new Array(this.size).fill(false);
    bml.register(PML_TAG, (peer, data) => this.#onFragment(peer, data));
    // New room on a module, or a peer's lists changed (module added, switched): issue what waits.
    bml.hooks.writable.tap('pml', (btl) => this.#progress(btl.rank));
    bml.hooks.endpointChanged.tap('pml', (endpoint) => this.#progress(endpoint.rank));
    bml.hooks.linkFailed.tap('pml', (btl) => this.#onLinkFailed(btl));
    bml.hooks.peerLost.tap('pml', (error) => this.#onPeerLost(error));
    // A failed module's registrations are of no use: the next send registers on what replaced it.
    bml.hooks.moduleFailed.tap('pml', (module) => this.#rcache.dropModule(module));
  }

  /** Starts sending `data` to `dest` (MPI_Isend); `wait()` resolves when `data` may be reused. */
  isend(data: Uint8Array, dest: number, tag: number, ctx = CTX_WORLD): Request<void> {
    this.checkSend(data, dest, tag, ctx);
    let seqs = this.#nextSeq.get(ctx);
    if (!seqs) this.#nextSeq.set(ctx, (seqs = new Uint32Array(this.size)));
    const seq = seqs[dest]!;
    seqs[dest] = (seq + 1) >>> 0;
    const lost = this.#lost[dest];
    // Nothing waits ahead of it: issue the first fragment now, without a trip through the queue.
    if (!lost && this.#queues[dest]!.length === 0 && !this.#progressing[dest] && !this.#controls[dest] && !this.#replays[dest]!.length) {
      const peer = this.bml.endpoints[dest]!;
      const btl = peer.reachable() && !this.#windowFull(dest) ? peer.nextEager() : undefined;
      if (btl) {
        if (this.#sendi(btl, dest, ctx, tag, seq, data)) return this.#sentAlready(data, dest, ctx, tag, seq);
        const req = this.#newSend(data, dest, ctx, tag, seq);
        this.#progressing[dest] = true;
        try {
          this.#issueFirst(req, peer, btl);
        } finally {
          this.#progressing[dest] = false;
        }
        return req;
      }
    }
    const req = this.#newSend(data, dest, ctx, tag, seq);
    if (lost) {
      req.fail(lost);
      return req;
    }
    this.#queues[dest]!.push(req);
    this.#progress(dest);
    return req;
  }

  #newSend(data: Uint8Array, dest: number, ctx: number, tag: number, seq: number): SendRequest {
    const req = new SendRequest(this.#newId(), data, dest, ctx, tag, seq);
    this.#track(req);
    req.beforeTest = this.#pollOnce;
    return req;
  }

  /** The request of a send that was done when it was issued (a module's sendi copied it). */
  #sentAlready(data: Uint8Array, dest: number, ctx: number, tag: number, seq: number): SendRequest {
    const req = new SendRequest(this.#newId(), data, dest, ctx, tag, seq);
    req.issuedAll = true;
    req.complete();
    return req;
  }

  /**
   * A small message over a module that can copy it into the peer's memory at once (`sendi`):
   * sent before anything else is done for it, since a sender's latency is the time to that
   * copy. The failover copy and the request come after. False: nothing was sent.
   */
  #sendi(btl: BmlBtl, dest: number, ctx: number, tag: number, seq: number, data: Uint8Array): boolean {
    const module = btl.module;
    if (module.sendi === undefined || this.#sendiBroken.has(module)) return false;
    const limit = Math.min(module.eagerLimit, module.maxSendSize);
    if (MATCH_HEADER + data.length > limit || (this.#failover && data.length > COPY_LIMIT)) return false;
    const header = writeMatch(ctx, tag, seq);
    if (!this.#failover) return this.#trySendi(btl, [header, data]);
    const out = this.#out[dest]!;
    const inbound = this.#in[dest]!;
    // Numbered as the next fragment; the number is taken only once it went.
    stamp(header, out.next, inbound.cumulative);
    if (!this.#trySendi(btl, data.length ? [header, data] : [header])) return false;
    inbound.advertised = inbound.cumulative;
    this.#retainCopy(dest, out.take(), FragType.MATCH, header, data, btl, undefined);
    return true;
  }

  /**
   * A module's sendi, which must not throw: one that does is asked no more (its sends go by
   * `send`), and the application's isend does not see its fault.
   */
  #trySendi(btl: BmlBtl, segments: readonly Uint8Array[]): boolean {
    try {
      return btl.sendi(PML_TAG, segments);
    } catch (error) {
      this.#sendiBroken.add(btl.module);
      const why = (error as Error)?.message ?? String(error);
      this.bml.host.log(`pml: ${btl.module.name}: sendi() threw (${why}); small messages go by send from now on`);
      return false;
    }
  }

  /**
   * Throws the MpiError `isend` would throw for these arguments, sending nothing: a call that
   * also posts a receive (sendrecv) checks its send first, so that failing leaves nothing posted.
   */
  checkSend(data: Uint8Array, dest: number, tag: number, ctx = CTX_WORLD): void {
    this.#checkRank(dest, 'destination');
    checkTag(tag, false);
    if (!(data instanceof Uint8Array)) throw new MpiError('ERR_BUFFER', `data must be a Uint8Array (or Buffer), got ${shown(data)}`);
    checkContext(ctx);
  }

  /**
   * Posts a receive (MPI_Irecv); `wait()` resolves with the message. With `into`, the message is
   * received into that buffer (its `data` is a view of it) instead of a new one: no allocation,
   * and memory the caller reuses stays warm. A message larger than `into` is consumed and the
   * receive fails (MPI_ERR_TRUNCATE).
   */
  irecv(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD, into?: Uint8Array): Request<Message> {
    this.#checkMatch(source, tag);
    if (into !== undefined && !(into instanceof Uint8Array)) {
      throw new MpiError('ERR_BUFFER', `into must be a Uint8Array (or Buffer), got ${shown(into)}`);
    }
    checkContext(ctx);
    const matcher = this.#matcher(ctx);
    const recv = new RecvRequest(source, tag);
    recv.into = into;
    this.#track(recv);
    if (this.#busyPoll) recv.beforeWait = this.#pollFor;
    recv.beforeTest = this.#pollOnce;
    const lost = source === ANY_SOURCE ? undefined : this.#lost[source];
    if (lost && !matcher.probe(source, tag)) {
      recv.fail(lost);
      return recv;
    }
    // MPI_Cancel: a receive no message has matched yet can be withdrawn.
    recv.onCancel = () => matcher.cancel(recv);
    matcher.post(recv);
    return recv;
  }

  /** What a receive or probe matches on: a rank of the job or ANY_SOURCE, a tag or ANY_TAG. */
  #checkMatch(source: number, tag: number): void {
    if (source !== ANY_SOURCE) this.#checkRank(source, 'source');
    checkTag(tag, true);
  }

  /**
   * Forgets a context a communicator no longer uses (MPI_Comm_free) once nothing is posted,
   * probed or waiting in it, and answers true: the context may then be agreed for a new
   * communicator, its sequence numbers starting afresh at every rank that forgot it. A context
   * with traffic left keeps its matcher (a late message is not lost) and answers false: it is
   * never used again. The world's contexts are never forgotten.
   */
  releaseContext(ctx: number): boolean {
    if (ctx === CTX_WORLD || ctx === CTX_COLLECTIVE) return false;
    if (this.#matchers.get(ctx)?.busy) return false;
    this.#matchers.delete(ctx);
    this.#nextSeq.delete(ctx);
    return true;
  }

  #matcher(ctx: number): Matcher {
    let matcher = this.#matchers.get(ctx);
    if (!matcher) this.#matchers.set(ctx, (matcher = new Matcher(this.size, (recv, m) => this.#bind(recv, m))));
    return matcher;
  }

  /** MPI_Iprobe: a message that a receive with these arguments would get now, if any. */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD): ProbeResult | undefined {
    this.#checkMatch(source, tag);
    const found = this.#matchers.get(ctx)?.probe(source, tag);
    if (found) return found;
    this.#pollOnce();
    return this.#matchers.get(ctx)?.probe(source, tag);
  }

  /** MPI_Probe: waits until such a message is there. */
  probe(source: number = ANY_SOURCE, tag: number = ANY_TAG, ctx = CTX_WORLD): Promise<ProbeResult> {
    this.#checkMatch(source, tag);
    checkContext(ctx);
    const found = this.#matcher(ctx).waitProbe(source, tag);
    if (!this.#keepAlive) return found;
    this.#keepAlive.hold();
    const release = () => this.#keepAlive!.release();
    void found.then(release, release);
    return found;
  }

  /** True while waits poll (`busyPoll`, until stopBusyPolling). */
  get busyPolling(): boolean {
    return this.#busyPoll;
  }

  /**
   * Waits sleep from now on, whatever `busyPoll` said: as Open MPI's ranks yield when idle once
   * they outnumber the host's cores, since a rank that polls then takes the core the rank it
   * waits for needs.
   */
  stopBusyPolling(why: string): void {
    this.#busyPoll = false;
    this.#busyPollStopped = why;
  }

  /** Requests not complete yet (sends and receives). */
  get outstanding(): number {
    return this.#outstanding;
  }

  pending() {
    return {
      outstanding: this.#outstanding,
      matching: [...this.#matchers.values()].map((m) => m.pending()),
      /** Fragments kept for failover, not yet acknowledged, and waiting to be sent again. */
      unacknowledged: this.#out.reduce((n, w) => n + w.size, 0),
      replaying: this.#replays.reduce((n, q) => n + q.length, 0),
    };
  }

  /** What `ctl status` shows of this PML: posted receives, unexpected messages, rendezvous in flight, per peer. */
  state(): PmlState {
    const posted: PendingEntry[] = [];
    const unexpected: PendingEntry[] = [];
    for (const [ctx, matcher] of this.#matchers) {
      const e = matcher.entries(ctx);
      // Not push(...list): a rank behind its senders holds hundreds of thousands of unexpected
      // messages, more arguments than a call takes (RangeError), and `ctl status` failed on it.
      for (const p of e.posted) posted.push(p);
      for (const u of e.unexpected) unexpected.push(u);
    }
    return summarizePml({
      size: this.size,
      outstanding: this.#outstanding,
      posted,
      unexpected,
      sendingTo: [...this.#sends.values()].map((r) => r.dest),
      receivingFrom: [...this.#recvs.values()].map((r) => r.matchedSource),
      queued: this.#queues.map((q) => q.length),
      rdma: this.rdmaStats(),
      busyPolling: this.#busyPoll,
      ...(this.#busyPollStopped !== undefined ? { busyPollStopped: this.#busyPollStopped } : {}),
    });
  }

  /** The RDMA protocol's counters: shows whether large messages were pulled with get. */
  rdmaStats(): PmlRdmaStats {
    return { ...this.#rdma, registrations: this.#rcache.registered, registrationHits: this.#rcache.hits };
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
      if (this.#replays[dest]!.length && !this.#sendReplays(dest, peer)) return;
      while (queue.length) {
        const req = queue.at(0);
        // No transport right now (a restart re-wiring its only one): wait for `endpointChanged`.
        if (!peer.reachable()) return;
        // The peer has not acknowledged a window's worth: its acknowledgements resume us.
        if (this.#windowFull(dest)) return;
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

  #issueFirst(req: SendRequest, peer: BmlEndpoint, btl = peer.nextEager()): boolean {
    if (!btl) return false;
    const { eagerLimit, maxSendSize } = btl.module;
    const total = req.data.length;
    if (MATCH_HEADER + total <= Math.min(eagerLimit, maxSendSize)) {
      req.issuedAll = true;
      this.#sendFragment(req, btl, FragType.MATCH, writeMatch(req.ctx, req.tag, req.seq), req.data);
      return true;
    }
    if (this.#issueRget(req, btl)) return true;
    const first = Math.max(0, Math.min(total, Math.min(eagerLimit, maxSendSize) - RNDV_HEADER));
    req.offset = first;
    req.awaitingAck = true;
    this.#sends.set(req.id, req);
    this.#sendFragment(req, btl, FragType.RNDV, writeRndv(req.ctx, req.tag, req.seq, req.id, total), req.data.subarray(0, first));
    return true;
  }

  /**
   * A rendezvous whose payload stays where it is: registered with a module of the peer's RDMA
   * list that offers get, and named in an RGET the receiver pulls it by. False (send as RNDV)
   * when no module offers get or registering failed (e.g. no slot left).
   */
  #issueRget(req: SendRequest, btl: BmlBtl): boolean {
    const peer = this.bml.endpoints[req.dest]!;
    const rdma = peer.rdma.find((b) => b.module.flags & BtlFlag.GET && b.module.registerMemory && b.module.get);
    if (!rdma) return false;
    try {
      req.registration = this.#rcache.acquire(rdma.module, req.data);
    } catch (error) {
      this.bml.host.log(`pml: registering ${req.data.length} bytes on ${rdma.module.name} failed (${String(error)}); sending by fragments`);
      return false;
    }
    const descriptor = descriptorOf(rdma.module.component, req.registration.registration);
    req.awaitingAck = true;
    this.#sends.set(req.id, req);
    this.#rdma.rgetSent += 1;
    this.#sendFragment(req, btl, FragType.RGET, writeRget(req.ctx, req.tag, req.seq, req.id, req.data.length), descriptor);
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
    this.#sendFragment(req, btl, FragType.FRAG, writeFrag(req.recvReq, offset), req.data.subarray(offset, offset + length));
    return true;
  }

  #sendFragment(req: SendRequest, btl: BmlBtl, kind: FragType, header: Uint8Array, payload: Uint8Array): void {
    const entry = this.#retain(req.dest, kind, header, payload, btl, req);
    if (entry && !entry.req) {
      // A kept copy: the caller's buffer is free now, and a failed link sends the copy again.
      btl.send(PML_TAG, entry.segments, this.#sendFailed(btl));
      req.settle();
      return;
    }
    req.outstanding += 1;
    if (entry) {
      const attempt = (entry.attempt = new Attempt(req));
      btl.send(PML_TAG, entry.segments, (error) => {
        // Kept: it goes again over another link (or this one, once it is back).
        if (error) this.#linkError(btl, error);
        attempt.settle();
      });
    } else {
      btl.send(PML_TAG, [header, payload], (error) => {
        req.outstanding -= 1;
        if (error) {
          this.#sends.delete(req.id);
          req.fail(new SendFailedError(req.dest, btl.module.name, error));
          return;
        }
        req.settle();
      });
    }
    req.settle();
  }

  /**
   * Numbers a fragment for the peer and, with failover, keeps it until the peer acknowledges
   * it: a view of the caller's buffer, whose request completes (the buffer may be reused) only
   * once every fragment of it is acknowledged. No copy: the acknowledgement comes with the
   * peer's next fragment back, or at the end of its event loop's turn.
   */
  #retain(
    dest: number,
    kind: FragType,
    header: Uint8Array,
    payload: Uint8Array,
    btl: BmlBtl,
    req: SendRequest | undefined,
  ): Retained | undefined {
    if (!this.#failover) return undefined;
    const inbound = this.#in[dest]!;
    const fseq = this.#out[dest]!.take();
    stamp(header, fseq, inbound.cumulative);
    inbound.advertised = inbound.cumulative;
    return this.#retainCopy(dest, fseq, kind, header, payload, btl, req);
  }

  /** Keeps fragment `fseq` (stamped and sent, or about to be) until the peer acknowledges it. */
  #retainCopy(
    dest: number,
    fseq: number,
    kind: FragType,
    header: Uint8Array,
    payload: Uint8Array,
    btl: BmlBtl,
    req: SendRequest | undefined,
  ): Retained {
    // A small eager message is copied (into the keep ring) and its send completes at once, as
    // a buffered send; larger ones are kept as views of the caller's buffer and their send
    // completes with the acknowledgement.
    const small = kind === FragType.MATCH && payload.length <= COPY_LIMIT;
    const ring = small && payload.length ? this.#keep[dest]! : undefined;
    const kept = ring ? ring.copy(payload) : payload;
    const owner = small ? undefined : req;
    const entry = new Retained(fseq, kind, kept.length ? [header, kept] : [header], btl, owner);
    if (ring) {
      entry.ring = ring;
      entry.keptGeneration = ring.lastGeneration;
      entry.keptEnd = ring.lastEnd;
    }
    if (owner) owner.unacked += 1;
    this.#out[dest]!.add(entry);
    if (!this.#retransmitTimer) this.#armRetransmit();
    return entry;
  }

  /** What a send over `btl` whose failure only concerns failover calls back (one per link, not one per send). */
  #sendFailed(btl: BmlBtl): SendCompletion {
    let done = this.#onSendFailed.get(btl);
    if (!done) {
      done = (error) => {
        if (error) this.#linkError(btl, error);
      };
      this.#onSendFailed.set(btl, done);
    }
    return done;
  }

  #sendControl(peer: BmlEndpoint, header: Uint8Array, payload: Uint8Array = EMPTY): void {
    const btl = peer.nextEager() ?? peer.eager[0];
    if (!btl) {
      // No transport right now (a restart re-wiring its only one): `endpointChanged` sends it.
      (this.#controls[peer.rank] ??= []).push(payload.length ? Buffer.concat([header, payload]) : header);
      return;
    }
    const entry = this.#retain(peer.rank, header[0] as FragType, header, payload, btl, undefined);
    btl.send(PML_TAG, payload.length ? [header, payload] : [header], entry && this.#sendFailed(btl));
  }

  /**
   * With failover, at most `sendWindow` fragments to a peer await its acknowledgement: a sender
   * cannot run further ahead of a receiver than that, which bounds what is kept for resending
   * and keeps ranks of a tight loop in step (each is as fast as its peers read).
   */
  #windowFull(dest: number): boolean {
    const window = this.#out[dest]!;
    return window.size >= this.#sendWindow || window.bytes >= WINDOW_BYTES;
  }

  /** A send on `btl` failed: the link is out (once), and what it carried goes again. */
  #linkError(btl: BmlBtl, error: Error): void {
    if (!btl.failure) this.bml.failLink(btl, { error, at: Date.now(), severity: 'endpoint' });
  }

  // --- failover ------------------------------------------------------------------------------

  /** A link failed: every fragment it carried that the peer has not acknowledged goes again. */
  #onLinkFailed(btl: BmlBtl): void {
    if (!this.#failover) return;
    const rank = btl.rank;
    const queue = this.#replays[rank]!;
    // Our acknowledgements to that peer may have been lost with the link too: send them again.
    this.#in[rank]!.repeat = true;
    this.#ackSoon(rank);
    for (const entry of this.#out[rank]!.pending()) {
      if (entry.queued || (entry.via && !entry.via.failure)) continue;
      entry.queued = true;
      queue.push(entry);
      // The failed link may take long to give its sends back (retries); the request does not
      // wait for that: the fragment is kept, and goes again.
      entry.attempt?.settle();
      entry.attempt = undefined;
    }
    this.#progress(rank);
  }

  /** Sends queued replays to `dest` while links take them; true when none is left. */
  #sendReplays(dest: number, peer: BmlEndpoint): boolean {
    const queue = this.#replays[dest]!;
    while (queue.length) {
      const entry = queue[0]!;
      if (entry.released) {
        queue.shift();
        entry.queued = false;
        continue;
      }
      const btl = replayLink(peer, entry.bytes);
      if (!btl) return false;
      queue.shift();
      entry.queued = false;
      if (entry.bytes > btl.module.maxSendSize) this.#reshape(entry, btl, dest);
      this.#resend(entry, btl);
      if (btl.blocked) return !queue.length;
    }
    return true;
  }

  /**
   * Acknowledgements are not kept: one lost with a failing link (or sent before the peer knew
   * it failed) would leave our window stuck. So while fragments wait, every RETRANSMIT_MS a peer
   * whose oldest one has not moved gets that one again: it is a duplicate there, and a
   * duplicate is answered with the cumulative acknowledgement.
   */
  #armRetransmit(): void {
    const oldest = this.#out.map((w) => w.oldest());
    this.#retransmitTimer = setTimeout(() => {
      this.#retransmitTimer = undefined;
      let waiting = false;
      this.#out.forEach((window, rank) => {
        const now = window.oldest();
        if (!now) return;
        waiting = true;
        if (now !== oldest[rank] || now.queued || this.#lost[rank]) return;
        now.queued = true;
        this.#replays[rank]!.unshift(now);
        this.#progress(rank);
      });
      if (waiting) this.#armRetransmit();
    }, RETRANSMIT_MS);
    this.#retransmitTimer.unref();
  }

  /** A kept fragment sent again: its request waits for the acknowledgement, not for this send. */
  #resend(entry: Retained, btl: BmlBtl): void {
    entry.via = btl;
    btl.send(PML_TAG, entry.segments, this.#sendFailed(btl));
  }

  /**
   * A fragment too large for the links that remain is cut to fit. Its first piece keeps its
   * number, so the receiver takes whichever version arrives first and drops the other: a data
   * fragment is cut in parts (the receiver counts bytes by range, so overlap counts once); a
   * rendezvous header carries less data (its ACK says how much arrived); an eager message goes
   * again as a rendezvous of its kept copy (if the original arrived after all, matching drops
   * this one by its sequence number).
   */
  #reshape(entry: Retained, btl: BmlBtl, dest: number): void {
    const max = btl.module.maxSendSize;
    const header = entry.segments[0]!;
    const payload = entry.segments[1] ?? EMPTY;
    switch (entry.kind) {
      case FragType.FRAG: {
        const recvReq = get32(header, 12);
        const offset = get64(header, 16);
        const room = max - FRAG_HEADER;
        entry.segments = [header, payload.subarray(0, room)];
        const queue = this.#replays[dest]!;
        const pieces: Retained[] = [];
        for (let at = room; at < payload.length; at += room) {
          const piece = this.#retain(
            dest,
            FragType.FRAG,
            writeFrag(recvReq, offset + at),
            payload.subarray(at, at + room),
            btl,
            entry.req,
          )!;
          piece.queued = true;
          pieces.push(piece);
        }
        queue.unshift(...pieces);
        return;
      }
      case FragType.RNDV:
        entry.segments = [header, payload.subarray(0, Math.max(0, max - RNDV_HEADER))];
        return;
      case FragType.MATCH: {
        // The caller's request completes now, on a copy: the rest travels as a rendezvous of its own.
        const copy = new Uint8Array(payload);
        const caller = entry.req;
        if (caller) {
          caller.unacked -= 1;
          caller.settle();
        }
        const ctx = ctxOf(header);
        const req = new SendRequest(this.#newId(), copy, dest, ctx, tagOf(header), seqOf(header));
        const first = Math.max(0, Math.min(copy.length, max - RNDV_HEADER));
        req.offset = first;
        req.awaitingAck = true;
        req.unacked = 1;
        this.#sends.set(req.id, req);
        const rndv = writeRndv(ctx, req.tag, req.seq, req.id, copy.length);
        stamp(rndv, entry.fseq, ackdOf(header));
        entry.kind = FragType.RNDV;
        entry.segments = [rndv, copy.subarray(0, first)];
        entry.req = req;
        return;
      }
      default:
    }
  }

  /** The peer's cumulative acknowledgement released these fragments. */
  readonly #released = (entry: Retained): void => {
    entry.segments = [];
    entry.ring?.release(entry.keptGeneration, entry.keptEnd);
    const req = entry.req;
    if (!req) return;
    req.unacked -= 1;
    req.settle();
  };

  #ackSoon(rank: number): void {
    if (this.#ackPending[rank]) return;
    this.#ackPending[rank] = true;
    this.#ackDue.push(rank);
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      setImmediate(this.#flushAcks);
    }
  }

  /**
   * Does the sender wait for our acknowledgement of this fragment? Only for a large eager
   * message and a rendezvous's FRAGs (their sends complete with it). A small eager message's send
   * completed on a kept copy; a RNDV or RGET completes with our ACK, and an ACK completes
   * nothing, and the ACK or reply that follows carries the acknowledgement. Each of those waits
   * for a fragment of ours going back instead of costing a write of its own on both sides (and
   * a wake-up of a sleeping peer): that doubled the writes of a collective's exchanges, and a
   * rendezvous ping-pong paid two extra wake-ups per round trip.
   */
  #senderWaits(data: Uint8Array): boolean {
    switch (data[0] as FragType) {
      case FragType.MATCH:
        return data.length - MATCH_HEADER > COPY_LIMIT;
      case FragType.RNDV:
      case FragType.RGET:
      case FragType.ACK:
      case FragType.PUT:
      case FragType.FIN:
        return false;
      default:
        return true;
    }
  }

  #ackLazily(): void {
    if (this.#lazyAckTimer) return;
    this.#lazyAckTimer = setTimeout(() => {
      this.#lazyAckTimer = undefined;
      this.flushAcknowledgements();
    }, LAZY_ACK_MS);
    this.#lazyAckTimer.unref();
  }

  /** Once per turn of the loop: acknowledge what no outgoing fragment acknowledged meanwhile. */
  readonly #flushAcks = (): void => {
    this.#ackScheduled = false;
    for (const rank of this.#ackDue.splice(0)) {
      this.#ackPending[rank] = false;
      const inbound = this.#in[rank]!;
      if (inbound.cumulative !== inbound.advertised || inbound.repeat) this.#sendAck(rank);
    }
  };

  #sendAck(rank: number): void {
    const peer = this.bml.endpoints[rank]!;
    // Out of the lists but still connected (a link being drained) will do: a sender waits for it.
    const btl = peer.nextEager() ?? peer.eager[0] ?? peer.btls.find((b) => !b.failure);
    if (!btl) return; // the next fragment that gets through carries it
    const inbound = this.#in[rank]!;
    inbound.advertised = inbound.cumulative;
    inbound.repeat = false;
    btl.send(PML_TAG, [writeRack(inbound.cumulative)]);
  }

  /** No transport reaches `rank` any more: everything that waits on it fails with the reason. */
  #onPeerLost(error: PeerLostError): void {
    const rank = error.peer;
    this.#lost[rank] = error;
    const failing = new Set<SendRequest>(this.#queues[rank]!.drain());
    for (const entry of this.#out[rank]!.pending()) {
      entry.released = true;
      if (entry.req) failing.add(entry.req);
    }
    this.#replays[rank]!.length = 0;
    this.#controls[rank] = undefined;
    for (const [id, req] of this.#sends) {
      if (req.dest !== rank) continue;
      this.#sends.delete(id);
      failing.add(req);
    }
    for (const req of failing) {
      req.releaseRegistration(this.#rcache);
      req.fail(error);
    }
    for (const m of this.#matchers.values()) m.failSource(rank, error);
    for (const [id, recv] of this.#recvs) {
      if (recv.matchedSource !== rank) continue;
      this.#recvs.delete(id);
      this.#endSplit(recv);
      recv.fail(error);
    }
  }

  /**
   * Acknowledges now what arrived and is not acknowledged yet (finalize, before the links are
   * taken down: a peer's send completes only with our acknowledgement).
   */
  flushAcknowledgements(): void {
    for (let rank = 0; rank < this.size; rank++) {
      const inbound = this.#in[rank]!;
      if (inbound.cumulative !== inbound.advertised || inbound.repeat) this.#sendAck(rank);
    }
  }

  /** A fresh request id: 32 bits on the wire, so it wraps, skipping ids still in use. */
  #newId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = (id + 1) >>> 0 || 1;
      if (!this.#sends.has(id) && !this.#recvs.has(id)) return id;
    }
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
    const rank = peer.rank;
    const ackd = ackdOf(data);
    if (ackd !== 0) {
      const wasFull = this.#windowFull(rank);
      this.#out[rank]!.acknowledge(ackd, this.#released);
      if (wasFull && !this.#windowFull(rank)) this.#progress(rank);
    }
    if (data[0] === FragType.RACK) return;
    const fseq = fseqOf(data);
    if (fseq !== 0) {
      const inbound = this.#in[rank]!;
      const first = inbound.accept(fseq);
      // A batch's worth waits for the end of this turn, not lazily: a reply sent meanwhile carries it.
      if (inbound.unacknowledged >= Math.min(ACK_BATCH, this.#sendWindow >> 1)) this.#ackSoon(rank);
      else if (this.#senderWaits(data) || !first) this.#ackSoon(rank);
      else this.#ackLazily();
      if (!first) return; // sent again after a fault, and the first one got here
    }
    switch (data[0] as FragType) {
      case FragType.MATCH:
        this.#arrive(new Arrival(rank, tagOf(data), data.length - MATCH_HEADER, data, MATCH_HEADER, undefined));
        return;
      case FragType.RNDV:
        this.#arrive(new Arrival(rank, tagOf(data), get64(data, 24), data, RNDV_HEADER, get32(data, 20)));
        return;
      case FragType.RGET: {
        const m = new Arrival(rank, tagOf(data), get64(data, 24), data, data.length, get32(data, 20));
        m.rdma = this.#rdmaSources.read(rank, data.subarray(RNDV_HEADER));
        this.#arrive(m);
        return;
      }
      case FragType.ACK: {
        const req = this.#sends.get(get32(data, 12));
        if (!req || !req.awaitingAck) return;
        req.recvReq = get32(data, 16);
        // What the receiver got with the RNDV: less than was sent if a shorter copy went again.
        req.offset = get64(data, 20);
        req.awaitingAck = false;
        // An RGET's ACK: the receiver pulled it all, or pulled nothing and wants fragments.
        req.releaseRegistration(this.#rcache);
        if (req.offset >= req.data.length) {
          req.issuedAll = true;
          this.#sends.delete(req.id);
          req.settle();
          return;
        }
        this.#queues[req.dest]!.push(req);
        this.#progress(req.dest);
        return;
      }
      case FragType.PUT: {
        const target = parseDescriptor(data.subarray(PUT_HEADER));
        this.#put(peer, this.#sends.get(get32(data, 12)), get32(data, 16), get64(data, 20), target);
        return;
      }
      case FragType.FIN: {
        const id = get32(data, 12);
        const recv = this.#recvs.get(id);
        const failure = get32(data, 16) === 1 ? undefined : `rank ${rank} could not put its part`;
        if (recv?.split && !recv.split.takenBack) this.#pulled(recv, id, recv.split.sendReq, failure);
        return;
      }
      case FragType.FRAG: {
        const id = get32(data, 12);
        const recv = this.#recvs.get(id);
        if (!recv) return;
        const buffer = recv.buffer!;
        const offset = get64(data, 16);
        buffer.set(data.subarray(FRAG_HEADER), offset);
        recv.ranges!.add(offset, offset + data.length - FRAG_HEADER);
        if (recv.ranges!.covered >= buffer.length) {
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
    // A peer may use a communicator's context before this rank has made it.
    this.#matcher(ctxOf(data)).arrive(seqOf(data), m);
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
        const out = m.size === into.length ? into : into.subarray(0, m.size);
        m.copyTo(out);
        m.release(this.#pool);
        recv.complete({ data: out, source: m.source, tag: m.tag });
      } else {
        recv.complete({ data: m.payload(this.#pool), source: m.source, tag: m.tag });
      }
      return;
    }
    // A rendezvous that does not fit is still received (the sender completes), then dropped.
    recv.buffer = into && !recv.truncated ? into.subarray(0, m.size) : Buffer.allocUnsafeSlow(m.size);
    m.copyTo(recv.buffer);
    const first = m.length;
    recv.ranges = new RangeSet();
    recv.ranges.add(0, first);
    m.release(this.#pool);
    recv.matchedSource = m.source;
    recv.matchedTag = m.tag;
    const id = this.#newId();
    this.#recvs.set(id, recv);
    if (m.rdma) this.#pull(recv, id, m.sendReq, m.rdma);
    else this.#sendControl(this.bml.endpoints[m.source]!, writeAck(m.sendReq, id, first));
  }

  /**
   * Reads an RGET's payload from the sender's memory into the receive buffer, then ACKs the
   * whole size. From the module's `splitGetMin`, the sender is asked to put the second half
   * meanwhile. When the named component no longer carries this peer's
   * traffic (a switch or a failover moved it) or a copy fails, ACKs 0 once both parts have
   * finished: the sender sends fragments, which overwrite whatever a failed copy left, and the
   * receive completes once, from them.
   */
  #pull(recv: RecvRequest, id: number, sendReq: number, source: RdmaSource): void {
    const peer = this.bml.endpoints[recv.matchedSource]!;
    const buffer = recv.buffer!;
    const btl = peer.rdma.find((b) => b.module.component === source.component && b.module.flags & BtlFlag.GET && b.module.get);
    if (!btl) {
      this.#pullFailed(recv, id, sendReq, `no ${source.component} link to it carries traffic`);
      return;
    }
    const head = this.#askPut(recv, id, sendReq, peer, btl, source.handle);
    this.#get(recv, id, sendReq, btl, source.handle, 0, head < buffer.length ? buffer.subarray(0, head) : buffer, true);
  }

  /** Gets `local` from the sender's registration at `offset`; #pulled hears how it went (`own`: the receiver's first part). */
  #get(
    recv: RecvRequest, id: number, sendReq: number, btl: BmlBtl, handle: unknown, offset: number, local: Uint8Array, own: boolean,
  ): void {
    try {
      btl.module.get!(btl.endpoint, local, handle, offset, (error) => this.#pulled(recv, id, sendReq, error?.message, own));
    } catch (error) {
      this.#pulled(recv, id, sendReq, error instanceof Error ? error.message : String(error), own);
    }
  }

  /**
   * Asks the sender to put the second half of a large RGET into our buffer (registered for it),
   * and returns how much the receiver gets itself: all of it below the module's `splitGetMin`
   * (or without one, or without put).
   */
  #askPut(recv: RecvRequest, id: number, sendReq: number, peer: BmlEndpoint, btl: BmlBtl, source: unknown): number {
    const buffer = recv.buffer!;
    const { module } = btl;
    const min = module.splitGetMin ?? 0;
    const canPut = module.flags & BtlFlag.PUT && module.put && module.registerMemory;
    if (min <= 0 || buffer.length < Math.max(min, 2 * SPLIT_ALIGN) || !canPut) return buffer.length;
    let registration: BtlRegistration;
    try {
      registration = module.registerMemory!(buffer);
    } catch {
      return buffer.length; // no slot left: the receiver gets it all, as without a split
    }
    // Without revoke the receiver could not take the half back from a sender that does not answer.
    if (!registration.revoke) {
      registration.release();
      return buffer.length;
    }
    const head = Math.floor(buffer.length / 2 / SPLIT_ALIGN) * SPLIT_ALIGN;
    recv.split = new SplitPull(sendReq, registration, head, btl, source);
    this.#sendControl(peer, writePut(sendReq, id, head), encodeDescriptor(module.component, registration));
    return head;
  }

  /** A PUT request: writes our message from `offset` on into the receiver's buffer, then FINs. */
  #put(peer: BmlEndpoint, req: SendRequest | undefined, recvReq: number, offset: number, target: RdmaSource): void {
    const fin = (failure?: string) => {
      const then = 'it gets that half itself or asks for fragments';
      if (failure) this.bml.host.log(`pml: RDMA put to rank ${peer.rank} not done (${failure}); ${then}`);
      this.#sendControl(peer, writeFin(recvReq, !failure));
    };
    if (!req || !req.awaitingAck || offset > req.data.length) return fin('no send of ours waits for it');
    const btl = peer.rdma.find((b) => b.module.component === target.component && b.module.flags & BtlFlag.PUT && b.module.put);
    if (!btl) return fin(`no ${target.component} link to it carries traffic`);
    const tail = req.data.subarray(offset);
    try {
      btl.module.put!(btl.endpoint, tail, target.handle, offset, (error) => {
        if (this.#sends.get(req.id) !== req) return; // the peer was lost meanwhile: the send failed
        if (!error) {
          this.#rdma.put += 1;
          this.#rdma.putBytes += tail.length;
        }
        fin(error?.message);
      });
    } catch (error) {
      fin(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * One part of a pull finished (the get; with a split, the sender's put or the half taken back
   * too): once every part has, ACK the whole size, or 0 for fragments if a part could not be done.
   */
  #pulled(recv: RecvRequest, id: number, sendReq: number, failure: string | undefined, own = false): void {
    if (this.#recvs.get(id) !== recv) return; // the peer was lost meanwhile: the receive failed
    const split = recv.split;
    if (split) {
      if (!split.settle(failure)) {
        if (own && !failure) split.timer = setTimeout(() => this.#takeBack(recv, id, split), TAKE_BACK_MS);
        return;
      }
      failure = split.failure;
      this.#endSplit(recv);
    }
    if (failure) return this.#pullFailed(recv, id, sendReq, failure);
    const peer = this.bml.endpoints[recv.matchedSource]!;
    const buffer = recv.buffer!;
    this.#rdma.pulled += 1;
    this.#rdma.pulledBytes += split && !split.takenBack ? split.head : buffer.length;
    recv.ranges!.add(0, buffer.length);
    this.#recvs.delete(id);
    this.#sendControl(peer, writeAck(sendReq, id, buffer.length));
    if (recv.truncated) recv.fail(truncation(buffer.length, recv.into!));
    else recv.complete({ data: buffer, source: recv.matchedSource, tag: recv.matchedTag });
  }

  /**
   * Our half is in and the sender's put has not begun after TAKE_BACK_MS (it is computing, or
   * slow to wake): revoke the registration and get the second half ourselves. A put that has
   * begun keeps the registration (revoke fails): its FIN follows.
   */
  #takeBack(recv: RecvRequest, id: number, split: SplitPull): void {
    split.timer = undefined;
    if (this.#recvs.get(id) !== recv || recv.split !== split || !split.registration.revoke!()) return;
    split.takenBack = true;
    this.#rdma.takenBack += 1;
    this.#get(recv, id, split.sendReq, split.btl, split.source, split.head, recv.buffer!.subarray(split.head), false);
  }

  #pullFailed(recv: RecvRequest, id: number, sendReq: number, why: string): void {
    const peer = this.bml.endpoints[recv.matchedSource]!;
    this.#rdma.fallbacks += 1;
    this.bml.host.log(`pml: RDMA get of ${recv.buffer!.length} bytes from rank ${peer.rank} not done (${why}); receiving by fragments`);
    this.#sendControl(peer, writeAck(sendReq, id, 0));
  }

  /** Lets a split pull's registration go (both parts done, or the peer lost). */
  #endSplit(recv: RecvRequest): void {
    const split = recv.split;
    if (!split) return;
    clearTimeout(split.timer);
    if (!split.takenBack) split.registration.release();
    recv.split = undefined;
  }

  // --- progress --------------------------------------------------------------------------------

  #track(req: SendRequest | RecvRequest): void {
    if (this.#outstanding++ === 0) this.#keepAlive?.hold();
    req.onSettled = this.#untrack;
    if (this.#busyPoll && !this.#spinning) {
      this.#spinning = true;
      setImmediate(this.#spin);
    }
  }

  /**
   * Busy polling, `wait()` on a receive not complete yet: polls the modules that can be polled
   * synchronously in a loop, for at most WAIT_POLL_MS, before wait() returns its promise, as
   * MPI_Wait spins in opal_progress. A message that arrives meanwhile completes the receive
   * without a trip through the poller's microtasks and the promise's. Only for a peer whose
   * every module can be polled (a socket's arrivals need the event loop); `wait()` does not call
   * it while the loop is starved (its fair-progress rule). Not for sends: a send not complete
   * waits for the peer's acknowledgement, and an application that calls `wait()` on each send
   * of a window as it issues it (`Promise.all`) would send one message per round trip.
   * Acknowledgements due at the end of this turn go out while it polls: the turn lasts longer.
   */
  readonly #pollFor = (req: Request<unknown>): void => {
    const source = (req as RecvRequest).source;
    if (this.#polling || !this.#busyPoll) return;
    if (!(source === ANY_SOURCE ? this.bml.polledEverywhere : this.bml.endpoints[source]!.polled)) return;
    this.#polling = true;
    try {
      const until = performance.now() + WAIT_POLL_MS;
      for (let i = 1; !req.completed; i++) {
        if (this.bml.progress() && this.#ackDue.length) this.#flushAcks();
        if ((i & 63) === 0 && performance.now() >= until) return;
      }
    } finally {
      this.#polling = false;
    }
  };

  /**
   * MPI_Test and MPI_Iprobe are progress points (MPI's progress rule): one synchronous poll of
   * the modules that can be polled (shared memory), so a loop of `test()` or `iprobe()` that
   * never yields still sees what they bring. A socket's arrivals need the event loop to turn.
   */
  readonly #pollOnce = (): void => {
    if (this.#polling) return;
    this.#polling = true;
    try {
      if (this.bml.progress() && this.#ackDue.length) this.#flushAcks();
    } finally {
      this.#polling = false;
    }
  };

  readonly #untrack = (): void => {
    if (--this.#outstanding === 0) this.#keepAlive?.release();
  };

  /**
   * Keeps libuv polling with a zero timeout while work is outstanding: latency for a core. A
   * pending immediate makes the loop poll without blocking; the chain ends when nothing is left.
   */
  readonly #spin = (): void => {
    if (this.#outstanding === 0 || !this.#busyPoll) {
      this.#spinning = false;
      return;
    }
    setImmediate(this.#spin);
  };

  #checkRank(rank: number, what: string): void {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new MpiError('ERR_RANK', `${what} rank must be an integer from 0 to ${this.size - 1}, got ${shown(rank)}`);
    }
  }
}

/** A tag a send may carry (0 to MAX_TAG), or with `wildcard` one a receive may match on (ANY_TAG too). */
function checkTag(tag: number, wildcard: boolean): void {
  if ((wildcard && tag === ANY_TAG) || (Number.isInteger(tag) && tag >= 0 && tag <= MAX_TAG)) return;
  throw new MpiError('ERR_TAG', `tag must be ${wildcard ? 'ANY_TAG or ' : ''}an integer from 0 to ${MAX_TAG}, got ${shown(tag)}`);
}

function checkContext(ctx: number): void {
  if (!Number.isInteger(ctx) || ctx < 0 || ctx > MAX_CONTEXT) {
    throw new MpiError('ERR_COMM', `context id must be an integer from 0 to ${MAX_CONTEXT}, got ${shown(ctx)}`);
  }
}

/** The send-list link that can take a fragment now, preferring one it fits whole; else the largest. */
function replayLink(peer: BmlEndpoint, bytes: number): BmlBtl | undefined {
  let best: BmlBtl | undefined;
  for (const b of peer.send) {
    if (b.blocked) continue;
    if (b.module.maxSendSize >= bytes) return b;
    if (!best || b.module.maxSendSize > best.module.maxSendSize) best = b;
  }
  return best;
}

/** MPI_ERR_TRUNCATE: the message was larger than the buffer the receive gave. */
function truncation(size: number, into: Uint8Array): MpiError {
  return new MpiError('ERR_TRUNCATE', `message of ${size} bytes does not fit the ${into.length}-byte receive buffer (MPI_ERR_TRUNCATE)`);
}
