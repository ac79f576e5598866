import { VerbsError } from '../errors.js';
import type {
  AccessFlags,
  AsyncEvent,
  CompletionQueue,
  DeviceInfo,
  MemoryRegion,
  OpenOptions,
  PortInfo,
  ProtectionDomain,
  QpCaps,
  QueuePair,
  VerbsContext,
  WorkCompletion,
} from '../types.js';
import { SoftCq } from './cq.js';
import type { DeviceUser, SoftDevice } from './device.js';
import { SoftMr, SoftPd, type MrTable } from './memory.js';
import { SOFT_LIMITS, SoftQp, type QpOwner } from './qp.js';
import type { ShmHub } from './shm-hub.js';

/**
 * An open soft device. Objects are checked to belong to this context (a real driver would
 * crash or fail with EINVAL on a foreign handle). After a device reset every creating or posting
 * call fails with EIO, while destroying and closing still succeed so cleanup code can run.
 */
export class SoftContext implements VerbsContext, DeviceUser, QpOwner {
  readonly device: DeviceInfo;
  #lost = false;
  #closed = false;
  #holds = 0;
  #pds = new Set<SoftPd>();
  #cqs = new Set<SoftCq>();
  #mrs = new Set<SoftMr>();
  #qps = new Set<SoftQp>();

  constructor(
    private readonly dev: SoftDevice,
    private readonly options: OpenOptions,
  ) {
    this.device = dev.info();
    dev.attach(this);
  }

  get mrs(): MrTable {
    return this.dev.mrs;
  }

  get holds(): number {
    return this.#holds;
  }

  gid(): string {
    return this.dev.gid;
  }

  hub(): ShmHub | undefined {
    return this.dev.hub;
  }

  socketPathFor(gid: string): string {
    return this.dev.socketPathFor(gid);
  }

  checkAlive(call: string): void {
    if (this.#closed) throw VerbsError.of(call, 'EINVAL', 'the device context is closed');
    if (this.#lost) throw VerbsError.of(call, 'EIO', 'the device was reset; close this context and open the device again');
  }

  queryPort(port: number): PortInfo {
    this.checkAlive('ibv_query_port');
    if (port !== 1) throw VerbsError.of('ibv_query_port', 'EINVAL', `port ${port} does not exist (soft0 has port 1)`);
    return this.dev.port();
  }

  allocPd(): ProtectionDomain {
    this.checkAlive('ibv_alloc_pd');
    const pd = new SoftPd(this, (p) => this.#pds.delete(p));
    this.#pds.add(pd);
    return pd;
  }

  createCompletionQueue(depth: number, onCompletions: (wcs: WorkCompletion[]) => void): CompletionQueue {
    this.checkAlive('ibv_create_cq');
    if (!Number.isInteger(depth) || depth < 1 || depth > SOFT_LIMITS.maxCqe) {
      throw VerbsError.of('ibv_create_cq', 'EINVAL', `depth must be in 1..${SOFT_LIMITS.maxCqe}`);
    }
    const hold = { hold: (delta: 1 | -1) => this.#hold(delta) };
    const cq = new SoftCq(depth, onCompletions, hold, (c) => this.#destroyCq(c));
    this.#cqs.add(cq);
    return cq;
  }

  registerMemory(pd: ProtectionDomain, buffer: Uint8Array, access: AccessFlags): MemoryRegion {
    this.checkAlive('ibv_reg_mr');
    const mr = this.dev.mrs.register(this.#ownPd(pd, 'ibv_reg_mr'), buffer, access);
    mr.onRemove = (m) => this.#mrs.delete(m);
    this.#mrs.add(mr);
    return mr;
  }

  createQueuePair(pd: ProtectionDomain, sendCq: CompletionQueue, recvCq: CompletionQueue, caps: QpCaps): QueuePair {
    this.checkAlive('ibv_create_qp');
    const p = this.#ownPd(pd, 'ibv_create_qp');
    const s = this.#ownCq(sendCq);
    const r = this.#ownCq(recvCq);
    const qp = new SoftQp(this.dev.allocQpn(), this, p, s, r, caps);
    p.users++;
    s.users++;
    r.users++;
    this.#qps.add(qp);
    this.dev.qps.set(qp.qpn, qp);
    return qp;
  }

  /** Called by SoftQp.destroy. */
  forget(qp: SoftQp): void {
    if (!this.#qps.delete(qp)) return;
    if (this.dev.qps.get(qp.qpn) === qp) this.dev.qps.delete(qp.qpn);
    qp.pd.users--;
    qp.sendCq.users--;
    qp.recvCq.users--;
  }

  close(): void {
    if (this.#closed) return;
    for (const qp of [...this.#qps]) qp.destroy();
    for (const mr of [...this.#mrs]) mr.deregister();
    for (const cq of [...this.#cqs]) this.#destroyCq(cq);
    this.#pds.clear();
    this.#closed = true;
    this.dev.detach(this);
  }

  checkPortActive(call: string): void {
    this.dev.checkPortActive(call);
  }

  portDown(): void {
    for (const qp of this.#qps) qp.enterError();
    this.#emit({ type: 'PORT_ERR', port: 1 });
  }

  portUp(): void {
    this.#emit({ type: 'PORT_ACTIVE', port: 1 });
  }

  deviceLost(): void {
    this.#lost = true;
    for (const qp of this.#qps) qp.enterError();
    this.#emit({ type: 'DEVICE_FATAL' });
  }

  accessError(qp: SoftQp): void {
    if (this.#qps.has(qp)) this.#emit({ type: 'QP_ACCESS_ERR', qpn: qp.qpn });
  }

  #emit(event: AsyncEvent): void {
    const listener = this.options.onAsyncEvent;
    // Asynchronous, like events read from the async fd.
    if (listener) setImmediate(() => listener(event));
  }

  #hold(delta: 1 | -1): void {
    this.#holds += delta;
    this.dev.updateRef();
  }

  #destroyCq(cq: SoftCq): void {
    if (!this.#cqs.has(cq)) return;
    if (cq.users > 0) throw VerbsError.of('ibv_destroy_cq', 'EBUSY', 'queue pairs still use it');
    cq.release();
    this.#cqs.delete(cq);
  }

  #ownPd(pd: ProtectionDomain, call: string): SoftPd {
    if (!(pd instanceof SoftPd) || !this.#pds.has(pd))
      throw VerbsError.of(call, 'EINVAL', 'protection domain of another context or deallocated');
    return pd;
  }

  #ownCq(cq: CompletionQueue): SoftCq {
    if (!(cq instanceof SoftCq) || !this.#cqs.has(cq))
      throw VerbsError.of('ibv_create_qp', 'EINVAL', 'completion queue of another context or destroyed');
    return cq;
  }
}
