import { QP_DEFAULTS } from '../constants.js';
import { VerbsError } from '../errors.js';
import type { QpAttrs, QpCaps, QpState, QpTargetState, QueuePair, RecvWorkRequest, SendWorkRequest, WcOpcode, WcStatus } from '../types.js';
import type { SoftCq } from './cq.js';
import type { MrTable, SoftPd } from './memory.js';
import { applyAttrs, checkTransition, initialAttrs, type ConnectionAttrs } from './qp-state.js';
import { Requester } from './requester.js';
import type { ShmHub } from './shm-hub.js';

/** What a QP needs from the context and device that own it. */
export interface QpOwner {
  readonly mrs: MrTable;
  /** Throws EIO (as libibverbs does on a disassociated device) once the device was reset. */
  checkAlive(call: string): void;
  /** Throws EINVAL while the port is DOWN (connecting a QP needs a usable port). */
  checkPortActive(call: string): void;
  gid(): string;
  socketPathFor(gid: string): string;
  forget(qp: SoftQp): void;
  /** The device's shared-memory side, when this process can share memory with its peers. */
  hub(): ShmHub | undefined;
}

/** Limits of the soft device (`ibv_query_device`-like). */
export const SOFT_LIMITS = Object.freeze({ maxQpWr: 16_384, maxSge: 16, maxCqe: 65_536 });

/**
 * An RC queue pair of the soft device: the state machine and the two work queues. The send side
 * is the Requester; the receive side is served by responder.ts when a peer's request arrives.
 */
export class SoftQp implements QueuePair {
  #state: QpState = 'RESET';
  attrs: ConnectionAttrs = initialAttrs();
  /** Posted receives, oldest first. */
  rq: RecvWorkRequest[] = [];
  readonly requester = new Requester(this);
  readonly caps: Required<QpCaps>;
  /** Told after every change of state or attributes (the shared-memory links publish what the QP allows). */
  readonly watchers = new Set<() => void>();
  #destroyed = false;

  constructor(
    readonly qpn: number,
    private readonly owner: QpOwner,
    readonly pd: SoftPd,
    readonly sendCq: SoftCq,
    readonly recvCq: SoftCq,
    caps: QpCaps,
  ) {
    this.caps = {
      maxSendWr: caps.maxSendWr,
      maxRecvWr: caps.maxRecvWr,
      maxSendSge: caps.maxSendSge ?? QP_DEFAULTS.maxSendSge,
      maxRecvSge: caps.maxRecvSge ?? QP_DEFAULTS.maxRecvSge,
    };
    for (const [name, value, max] of [
      ['maxSendWr', this.caps.maxSendWr, SOFT_LIMITS.maxQpWr],
      ['maxRecvWr', this.caps.maxRecvWr, SOFT_LIMITS.maxQpWr],
      ['maxSendSge', this.caps.maxSendSge, SOFT_LIMITS.maxSge],
      ['maxRecvSge', this.caps.maxRecvSge, SOFT_LIMITS.maxSge],
    ] as const) {
      if (!Number.isInteger(value) || value < 0 || value > max)
        throw VerbsError.of('ibv_create_qp', 'EINVAL', `${name} must be in 0..${max}`);
    }
  }

  get state(): QpState {
    return this.#state;
  }

  get mrs(): MrTable {
    return this.owner.mrs;
  }

  localGid(): string {
    return this.owner.gid();
  }

  hub(): ShmHub | undefined {
    return this.owner.hub();
  }

  peerSocketPath(): string {
    return this.owner.socketPathFor(this.attrs.remoteGid);
  }

  modify(to: QpTargetState, attrs: QpAttrs = {}): void {
    this.#checkUsable('ibv_modify_qp');
    checkTransition(this.#state, to);
    if (to === 'RTR' || to === 'RTS') this.owner.checkPortActive('ibv_modify_qp');
    applyAttrs(this.attrs, to, attrs);
    switch (to) {
      case 'RESET':
        this.requester.reset();
        this.rq = [];
        this.attrs = initialAttrs();
        this.#state = 'RESET';
        break;
      case 'ERROR':
        this.enterError();
        break;
      default:
        this.#state = to;
        if (to === 'RTS') this.requester.pump();
    }
    this.#changed();
  }

  postSend(wr: SendWorkRequest): void {
    this.#checkUsable('ibv_post_send');
    if (this.#state === 'RESET' || this.#state === 'INIT' || this.#state === 'RTR') {
      throw VerbsError.of('ibv_post_send', 'EINVAL', `the QP is in ${this.#state}; sends need RTS`);
    }
    checkId('ibv_post_send', wr.id);
    if (wr.sges.length > this.caps.maxSendSge)
      throw VerbsError.of('ibv_post_send', 'EINVAL', `${wr.sges.length} SGEs exceed maxSendSge ${this.caps.maxSendSge}`);
    if (wr.opcode !== 'SEND' && wr.opcode !== 'RDMA_WRITE' && wr.opcode !== 'RDMA_READ')
      throw VerbsError.of('ibv_post_send', 'EINVAL', `unsupported opcode ${String(wr.opcode)}`);
    if (wr.opcode !== 'SEND' && !wr.remote) throw VerbsError.of('ibv_post_send', 'EINVAL', `${wr.opcode} needs remote { addr, rkey }`);
    if (this.requester.outstanding >= this.caps.maxSendWr) throw VerbsError.of('ibv_post_send', 'ENOMEM', 'the send queue is full');
    if (this.#state === 'ERROR') return this.completeSend(wr.id, 'WR_FLUSH_ERR', undefined, 0);
    this.requester.post(wr);
  }

  postRecv(wr: RecvWorkRequest): void {
    this.#checkUsable('ibv_post_recv');
    if (this.#state === 'RESET') throw VerbsError.of('ibv_post_recv', 'EINVAL', 'the QP is in RESET');
    checkId('ibv_post_recv', wr.id);
    if (wr.sges.length > this.caps.maxRecvSge)
      throw VerbsError.of('ibv_post_recv', 'EINVAL', `${wr.sges.length} SGEs exceed maxRecvSge ${this.caps.maxRecvSge}`);
    if (this.rq.length >= this.caps.maxRecvWr) throw VerbsError.of('ibv_post_recv', 'ENOMEM', 'the receive queue is full');
    if (this.#state === 'ERROR') return this.completeRecv(wr.id, 'WR_FLUSH_ERR', 0);
    this.rq.push(wr);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.requester.reset();
    this.rq = [];
    this.owner.forget(this);
    this.#changed();
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Does a request from (gid, qpn) belong to this QP's connection, and may it be served now? */
  acceptsFrom(gid: string, qpn: number): boolean {
    return (this.#state === 'RTR' || this.#state === 'RTS') && this.attrs.remoteQpn === qpn && this.attrs.remoteGid === gid;
  }

  /** A request of this QP failed with `status`: the QP goes to ERROR, everything else is flushed. */
  fail(status: WcStatus, index = 0): void {
    this.enterError(status, index);
  }

  /**
   * To ERROR, as an HCA does on any error: outstanding sends complete (the failed one with its
   * status, the rest with WR_FLUSH_ERR), then every posted receive with WR_FLUSH_ERR.
   */
  enterError(status?: WcStatus, index = 0): void {
    if (this.#state === 'ERROR') return;
    this.#state = 'ERROR';
    this.#changed();
    this.requester.flush(status, index);
    const rq = this.rq;
    this.rq = [];
    for (const wr of rq) this.completeRecv(wr.id, 'WR_FLUSH_ERR', 0);
  }

  completeSend(id: number, status: WcStatus, opcode: WcOpcode | undefined, byteLen: number): void {
    this.sendCq.push({ id, status, ...(status === 'SUCCESS' ? { opcode } : {}), byteLen, qpn: this.qpn, vendorErr: 0 });
  }

  completeRecv(id: number, status: WcStatus, byteLen: number): void {
    this.recvCq.push({ id, status, ...(status === 'SUCCESS' ? { opcode: 'RECV' as const } : {}), byteLen, qpn: this.qpn, vendorErr: 0 });
  }

  #changed(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  #checkUsable(call: string): void {
    if (this.#destroyed) throw VerbsError.of(call, 'EINVAL', 'the queue pair was destroyed');
    this.owner.checkAlive(call);
  }
}

function checkId(call: string, id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) throw VerbsError.of(call, 'EINVAL', 'work request ids are non-negative safe integers');
}
