import type { BtlEndpoint, BtlHost, BtlModule, SendCompletion } from '@switchyard/btl-interface';
import {
  Access,
  sge,
  type MemoryRegion,
  type PortInfo,
  type ProtectionDomain,
  type QueuePair,
  type VerbsContext,
  type WorkCompletion,
} from '@switchyard/verbs';
import type { OpenibCard } from './card.js';
import { linkError, OpenibError, OpenibErrorCodes } from './errors.js';
import { Fifo, refuseLater } from '@switchyard/btl-base';
import { HEADER_SIZE, Kind, MAX_PIGGYBACK, readHeader, writeHeader, type KindValue } from './frames.js';
import { WrId, type PostedOp, type RdmaOp, type SendOp, type UserOp } from './ops.js';
import type { OpenibSettings } from './params.js';

/** Receive buffers per peer beyond the data credits, for HELLO and CREDIT messages. */
export const RESERVED_BUFFERS = 4;
/** Send-queue room for puts and gets beyond the fragments credits allow. */
export const RDMA_DEPTH = 16;

/** What an endpoint shares with its module. */
export interface EndpointContext {
  readonly module: BtlModule;
  readonly host: BtlHost;
  readonly ctx: VerbsContext;
  readonly pd: ProtectionDomain;
  readonly port: PortInfo;
  readonly rank: number;
  readonly settings: OpenibSettings;
  log(message: string): void;
  /**
   * The link failed: the module fails the endpoint's work (`abandon`) and reports it, as this
   * endpoint's error or, when the device itself died, as its own.
   */
  failed(endpoint: OpenibEndpoint, error: OpenibError): void;
}

export type EndpointState = 'connecting' | 'connected' | 'failed' | 'closed';

/** QP capabilities every endpoint's QP is created with (before the peer's card is known). */
export function qpCaps(settings: OpenibSettings): { maxSendWr: number; maxRecvWr: number } {
  return { maxSendWr: settings.recvBuffers + RESERVED_BUFFERS + RDMA_DEPTH, maxRecvWr: settings.recvBuffers + RESERVED_BUFFERS };
}

/**
 * One peer over one RC QP.
 *
 * Connecting: both QPNs come from the modex, so add_procs takes the QP straight to RTS and sends
 * HELLO. The link is up when our HELLO was acknowledged (the peer's QP is ready) and the peer's
 * HELLO arrived (it knows ours is); only then do fragments and RDMA flow. A peer that is late to
 * add_procs drops our HELLO; the QP retransmits after its ack timeout, and if the retries run out
 * (RETRY_EXC_ERR) the QP is reset and HELLO sent again until `connect_timeout`. Resetting is safe
 * then: the peer cannot have sent anything but its own HELLO.
 *
 * Flow control: the peer pre-posts `recvBuffers` buffers for our fragments, which are our send
 * credits; each fragment uses one. The peer re-posts a buffer once it has handed the fragment up
 * and returns the credit in the header of its next message, or in a CREDIT message when it owes
 * half a window and has nothing to send. HELLO and CREDIT use reserved buffers; RNR retry (forever
 * by default) covers the rare moment they are all in use, so control traffic cannot deadlock.
 */
export class OpenibEndpoint {
  readonly handle: BtlEndpoint;
  #state: EndpointState = 'connecting';
  #card!: OpenibCard;
  #incarnation = 0;
  #slotSize = 0;
  #recvSlots = 0;
  #recvMr?: MemoryRegion;
  #sendMr?: MemoryRegion;
  #freeSendSlots: number[] = [];
  #sendCredits = 0;
  #creditsOwed = 0;
  #controlInFlight = 0;
  #helloAcked = false;
  #helloReceived = false;
  #sqOutstanding = 0;
  readonly #maxSendWr: number;
  readonly #pending = new Fifo<UserOp>();
  #pendingBytes = 0;
  #wantWritable = false;
  readonly #posted = new Map<number, PostedOp>();
  readonly #unsettled = new Set<UserOp>();
  #rdmaSeq = 0;
  #deadline?: NodeJS.Timeout;
  /** Why the link failed: what later operations complete with. */
  #failure?: OpenibError;
  #connectingOver!: () => void;
  /** Resolves once connecting is over: the link is up, failed or closed. */
  readonly settled = new Promise<void>((resolve) => (this.#connectingOver = resolve));

  constructor(
    readonly rank: number,
    readonly qp: QueuePair,
    private readonly c: EndpointContext,
  ) {
    this.handle = Object.freeze({ rank, module: c.module });
    this.#maxSendWr = qpCaps(c.settings).maxSendWr;
  }

  get state(): EndpointState {
    return this.#state;
  }

  /** Largest fragment (header of the layer above included) this link carries. */
  get maxFragment(): number {
    return this.#slotSize - HEADER_SIZE;
  }

  /** Registers the buffers, takes the QP to RTS and says HELLO. Throws if a verbs call fails. */
  connect(card: OpenibCard): void {
    const s = this.c.settings;
    this.#card = card;
    this.#slotSize = Math.max(s.maxSendSize, card.maxSendSize) + HEADER_SIZE;
    this.#recvSlots = s.recvBuffers + RESERVED_BUFFERS;
    const sendSlots = card.recvBuffers + RESERVED_BUFFERS;
    this.#recvMr = this.c.ctx.registerMemory(this.c.pd, new Uint8Array(this.#slotSize * this.#recvSlots), Access.LOCAL_WRITE);
    this.#sendMr = this.c.ctx.registerMemory(this.c.pd, new Uint8Array(this.#slotSize * sendSlots), 0);
    this.#freeSendSlots = [...Array(sendSlots).keys()].reverse();
    this.#sendCredits = card.recvBuffers;
    this.#bringUp(0);
    this.#deadline = setTimeout(() => {
      if (this.#state === 'connecting') {
        this.#fail(
          new OpenibError(
            OpenibErrorCodes.LINK_FAILED,
            `btl openib: no connection to rank ${this.rank} within ${s.connectTimeout} ms (its QP never answered)`,
          ),
        );
      }
    }, s.connectTimeout);
    this.#deadline.unref();
  }

  /** RESET/INIT → receives posted → RTR → RTS → HELLO. */
  #bringUp(rqPsn: number): void {
    const s = this.c.settings;
    const card = this.#card;
    this.qp.modify('INIT', { port: this.c.port.port, qpAccess: Access.REMOTE_WRITE | Access.REMOTE_READ });
    for (let slot = 0; slot < this.#recvSlots; slot++) this.#postRecv(slot);
    this.qp.modify('RTR', {
      remoteQpn: card.qpns[this.c.rank]!,
      dest: { lid: card.lid, gid: card.gid },
      rqPsn,
      pathMtu: Math.min(this.c.port.mtu, card.mtu),
      minRnrTimer: s.minRnrTimer,
    });
    this.qp.modify('RTS', { sqPsn: 0, timeout: s.timeout, retryCnt: s.retryCount, rnrRetry: s.rnrRetry });
    this.#postControl(Kind.HELLO);
  }

  /** Our HELLO ran out of retries while the peer was not ready yet: start the QP over. */
  #reconnect(): void {
    this.#incarnation++;
    this.#posted.clear();
    this.#sqOutstanding = 0;
    this.#controlInFlight = 0;
    this.#freeSendSlots = [...Array(this.#card.recvBuffers + RESERVED_BUFFERS).keys()].reverse();
    this.#helloAcked = false;
    this.c.log(`btl openib: rank ${this.rank} not ready yet; resetting the QP and saying HELLO again`);
    try {
      this.qp.modify('RESET');
      // The peer has sent at most its HELLO: PSN 0, so we expect 1 next if it arrived, else 0.
      this.#bringUp(this.#helloReceived ? 1 : 0);
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  send(tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    if (this.#state === 'failed' || this.#state === 'closed') {
      done?.(this.#unusable());
      return true;
    }
    let bytes = 0;
    for (const s of segments) bytes += s.length;
    if (bytes > this.maxFragment) {
      refuseLater(done, new Error(`btl openib: fragment of ${bytes} bytes exceeds the link's ${this.maxFragment}`));
      return true;
    }
    const op: SendOp = { kind: 'send', tag, segments, bytes, done, settled: false };
    this.#unsettled.add(op);
    this.#pending.push(op);
    this.#pendingBytes += bytes;
    this.#progress();
    if (this.#pendingBytes > this.#highWater()) {
      this.#wantWritable = true;
      return false;
    }
    return true;
  }

  rdma(opcode: RdmaOp['opcode'], local: Uint8Array, remote: RdmaOp['remote'], done: SendCompletion): void {
    if (this.#state === 'failed' || this.#state === 'closed') {
      done(this.#unusable());
      return;
    }
    const op: RdmaOp = { kind: 'rdma', opcode, local, remote, done, settled: false };
    this.#unsettled.add(op);
    this.#pending.push(op);
    this.#progress();
  }

  /** Resolves when everything accepted so far has completed (or failed). */
  flush(): Promise<void> {
    const ops = [...this.#unsettled];
    if (!ops.length) return Promise.resolve();
    return new Promise((resolve) => {
      let left = ops.length;
      const one = (): void => {
        if (--left === 0) resolve();
      };
      for (const op of ops) (op.waiters ??= []).push(one);
    });
  }

  onCompletion(wc: WorkCompletion): void {
    if (this.#state === 'closed' || Math.floor(wc.id / WrId.SPACE) !== this.#incarnation) return;
    const local = wc.id % WrId.SPACE;
    if (local < WrId.SEND) return this.#onRecv(wc, local - WrId.RECV);
    this.#sqOutstanding--;
    const op = this.#posted.get(wc.id);
    this.#posted.delete(wc.id);
    if (local < WrId.RDMA) this.#freeSendSlots.push(local - WrId.SEND);
    if (wc.status !== 'SUCCESS') return this.#onSendError(wc, op);
    if (op?.kind === 'control') {
      if (op.type === Kind.HELLO) {
        this.#helloAcked = true;
        this.#maybeConnected();
      } else this.#controlInFlight--;
    } else if (op) this.#settle(op);
    this.#progress();
  }

  #onSendError(wc: WorkCompletion, op: PostedOp | undefined): void {
    if (this.#state === 'failed') {
      if (op && op.kind !== 'control') this.#settle(op, this.#unusable());
      return;
    }
    if (this.#state === 'connecting' && op?.kind === 'control' && op.type === Kind.HELLO && wc.status === 'RETRY_EXC_ERR') {
      return this.#reconnect();
    }
    const what = !op
      ? 'a request'
      : op.kind === 'control'
        ? op.type === Kind.HELLO
          ? 'HELLO'
          : 'a credit message'
        : op.kind === 'send'
          ? 'a fragment'
          : op.opcode === 'RDMA_WRITE'
            ? 'a put'
            : 'a get';
    this.#fail(new OpenibError(OpenibErrorCodes.LINK_FAILED, `btl openib: ${what} to rank ${this.rank} failed: ${wc.status}`));
  }

  #onRecv(wc: WorkCompletion, slot: number): void {
    if (wc.status !== 'SUCCESS') {
      // While connecting, a flush means our HELLO failed too: its completion decides.
      if (this.#state === 'failed' || (this.#state === 'connecting' && wc.status === 'WR_FLUSH_ERR')) return;
      return this.#fail(new OpenibError(OpenibErrorCodes.LINK_FAILED, `btl openib: receive from rank ${this.rank} failed: ${wc.status}`));
    }
    const at = slot * this.#slotSize;
    const buffer = this.#recvMr!.buffer;
    const { kind, tag, credits } = readHeader(buffer, at);
    this.#sendCredits += credits;
    try {
      if (kind === Kind.DATA) this.c.host.receive(this.handle, tag, buffer.subarray(at + HEADER_SIZE, at + wc.byteLen));
      else if (kind === Kind.HELLO) this.#helloReceived = true;
    } finally {
      // The buffer is ours again only now (receive's data is valid during the call only).
      if (this.#state === 'connecting' || this.#state === 'connected') {
        try {
          this.#postRecv(slot);
          if (kind === Kind.DATA) this.#creditsOwed++;
        } catch (err) {
          this.#fail(err as Error);
        }
      }
    }
    if (kind === Kind.HELLO) this.#maybeConnected();
    this.#progress();
  }

  #maybeConnected(): void {
    if (this.#state !== 'connecting' || !this.#helloAcked || !this.#helloReceived) return;
    this.#state = 'connected';
    clearTimeout(this.#deadline);
    this.#connectingOver();
    this.c.log(`btl openib: connected to rank ${this.rank} (QP ${this.qp.qpn} -> ${this.#card.qpns[this.c.rank]})`);
  }

  /** Posts what credits and queue room allow, in order; then returns credits if owed. */
  #progress(): void {
    if (this.#state !== 'connected') return;
    for (let op = this.#pending.peek(); op; op = this.#pending.peek()) {
      if (this.#sqOutstanding >= this.#maxSendWr) break;
      if (op.kind === 'send' && (this.#sendCredits === 0 || !this.#freeSendSlots.length)) break;
      this.#pending.shift();
      if (op.kind === 'send') {
        this.#pendingBytes -= op.bytes;
        this.#postData(op);
      } else this.#postRdma(op);
      if (this.#state !== 'connected') return;
    }
    if (this.#wantWritable && this.#pendingBytes <= this.#highWater() / 2) {
      this.#wantWritable = false;
      this.c.host.writable(this.handle);
    }
    // Nothing of ours is going to carry the credits back soon: send them on their own.
    if (this.#creditsOwed >= Math.max(1, this.c.settings.recvBuffers >> 1) && this.#controlInFlight < RESERVED_BUFFERS - 1) {
      this.#postControl(Kind.CREDIT);
    }
  }

  #highWater(): number {
    return 2 * this.c.settings.recvBuffers * this.maxFragment;
  }

  #id(local: number): number {
    return this.#incarnation * WrId.SPACE + local;
  }

  #postRecv(slot: number): void {
    this.qp.postRecv({ id: this.#id(WrId.RECV + slot), sges: [sge(this.#recvMr!, slot * this.#slotSize, this.#slotSize)] });
  }

  /** Header, then the payload, into a registered send slot, and SEND it. */
  #postSend(kind: KindValue, tag: number, payload: readonly Uint8Array[], bytes: number, op: PostedOp): boolean {
    if (!this.#freeSendSlots.length || this.#sqOutstanding >= this.#maxSendWr) return false;
    const slot = this.#freeSendSlots.pop()!;
    const at = slot * this.#slotSize;
    const buffer = this.#sendMr!.buffer;
    const credits = Math.min(this.#creditsOwed, MAX_PIGGYBACK);
    writeHeader(buffer, at, kind, tag, credits);
    let offset = at + HEADER_SIZE;
    for (const s of payload) {
      buffer.set(s, offset);
      offset += s.length;
    }
    const id = this.#id(WrId.SEND + slot);
    try {
      this.qp.postSend({ id, opcode: 'SEND', sges: [sge(this.#sendMr!, at, HEADER_SIZE + bytes)] });
    } catch (err) {
      this.#freeSendSlots.push(slot);
      this.#fail(err as Error);
      return false;
    }
    this.#creditsOwed -= credits;
    this.#sqOutstanding++;
    this.#posted.set(id, op);
    return true;
  }

  #postData(op: SendOp): void {
    if (this.#postSend(Kind.DATA, op.tag, op.segments, op.bytes, op)) this.#sendCredits--;
  }

  #postControl(type: typeof Kind.HELLO | typeof Kind.CREDIT): void {
    if (this.#postSend(type, 0, [], 0, { kind: 'control', type }) && type === Kind.CREDIT) this.#controlInFlight++;
  }

  #postRdma(op: RdmaOp): void {
    const id = this.#id(WrId.RDMA + (this.#rdmaSeq++ % (WrId.SPACE - WrId.RDMA)));
    try {
      // The HCA needs the local side registered too; a get writes into it.
      if (op.local.length) op.mr = this.c.ctx.registerMemory(this.c.pd, op.local, Access.LOCAL_WRITE);
      this.qp.postSend({ id, opcode: op.opcode, sges: op.mr ? [sge(op.mr)] : [], remote: op.remote });
    } catch (err) {
      this.#settle(op, err as Error);
      // Registration can fail for this buffer alone; a failed post means the QP is unusable.
      if (op.mr || !op.local.length) this.#fail(err as Error);
      return;
    }
    this.#sqOutstanding++;
    this.#posted.set(id, op);
  }

  #settle(op: UserOp, error?: Error): void {
    if (op.settled) return;
    op.settled = true;
    this.#unsettled.delete(op);
    if (op.kind === 'rdma' && op.mr) {
      try {
        op.mr.deregister();
      } catch {
        // the device is gone; nothing left to release
      }
    }
    op.done?.(error);
    for (const w of op.waiters ?? []) w();
  }

  #unusable(): OpenibError {
    return this.#failure ?? new OpenibError(OpenibErrorCodes.LINK_FAILED, `btl openib: the link to rank ${this.rank} is ${this.#state}`);
  }

  /**
   * The link is lost: the module decides whether the link or the whole device failed, fails
   * this endpoint's work with that (abandon) and reports it. Never throws.
   */
  #fail(error: Error): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    clearTimeout(this.#deadline);
    this.#connectingOver();
    try {
      this.qp.modify('ERROR');
    } catch {
      // already in ERROR, or the device is gone
    }
    this.c.failed(this, linkError(error, this.rank));
  }

  /**
   * Fails everything accepted (queued or posted) with `error`, and what comes later with it too.
   * The module calls it for a failed link and for every link of a failed device.
   */
  abandon(error: OpenibError): void {
    if (this.#state === 'closed') return;
    this.#state = 'failed';
    this.#failure ??= error;
    clearTimeout(this.#deadline);
    this.#connectingOver();
    this.#pending.clear();
    this.#pendingBytes = 0;
    for (const op of [...this.#unsettled]) this.#settle(op, this.#failure);
  }

  /** del_procs / finalize: destroy the QP and release the buffers. */
  close(): void {
    if (this.#state === 'closed') return;
    const wasFailed = this.#state === 'failed';
    this.#state = 'closed';
    clearTimeout(this.#deadline);
    this.#connectingOver();
    this.#pending.clear();
    const error = new Error(`btl openib: the link to rank ${this.rank} was closed`);
    for (const op of [...this.#unsettled]) this.#settle(op, error);
    for (const release of [() => this.qp.destroy(), () => this.#recvMr?.deregister(), () => this.#sendMr?.deregister()]) {
      try {
        release();
      } catch (err) {
        if (!wasFailed) this.c.log(`btl openib: releasing the link to rank ${this.rank}: ${(err as Error).message}`);
      }
    }
  }
}
