import { loadNative, Poller, unavailableReason, type Doorbell, type SmAddon } from '@switchyard/btl-sm/shm';
import { deliverDueCompletions } from './cq.js';
import type { MrPublication, SoftMr } from './memory.js';
import { MR_TABLE_BYTES, MrPublisher } from './mr-window.js';
import type { LinkEnd } from './shm-link.js';

/** One end of a link the device polls: a requester's (responses) or a responder's (requests). */
export interface PolledEnd {
  readonly end: LinkEnd;
  /** Handles what arrived; returns how many packets it took. */
  poll(): number;
}

/**
 * How long a soft device keeps polling its links after the last activity before its event loop
 * sleeps on the doorbell (µs), as btl-sm's spin_time: an HCA's completion arrives without a
 * wake-up, and a ping-pong between two busy ranks never pays one.
 */
export const SOFT_SPIN_MICROS = 20;

/** `socket` keeps every soft device of the process on its sockets (a comparison, or a fault hunt). */
export const WIRE_ENV = 'SWITCHYARD_SOFT_VERBS_WIRE';

let hubs = 0;

let availability: { addon?: SmAddon; reason?: string } | undefined;

/** The shared-memory addon, or undefined when this process cannot use it (the device then stays on its sockets). */
export function shmAddon(): SmAddon | undefined {
  if (!availability) {
    const reason = process.env[WIRE_ENV] === 'socket' ? `${WIRE_ENV}=socket` : unavailableReason();
    availability = reason === undefined ? { addon: loadNative() } : { reason };
  }
  return availability.addon;
}

/**
 * The device's side of its shared-memory links: one doorbell (an eventfd in the event loop's
 * epoll set) and one poller for all of them, as the HCA's one completion channel. Every turn
 * drains every link, then hands the completions it produced to the CQ callbacks in the same
 * turn (no extra loop turn per message).
 */
export class ShmHub {
  readonly #ends = new Set<PolledEnd>();
  #polled: PolledEnd[] = [];
  readonly #doorbell: Doorbell;
  readonly #poller: Poller;
  #closed = false;
  /** The device's published region table: peers map it through this descriptor (see mr-window.ts). */
  readonly #mrFd: number;
  readonly #mrTable: SharedArrayBuffer;
  /** What the device's MrTable calls while this hub is open. */
  readonly publication: MrPublication;

  constructor(readonly addon: SmAddon) {
    const table = addon.createSegment(`/switchyard-verbs-mr-${process.pid}-${++hubs}`, MR_TABLE_BYTES);
    this.#mrFd = table.fd;
    this.#mrTable = table.buffer;
    const publisher = new MrPublisher(table.buffer);
    this.publication = {
      publish: (mr: SoftMr) => {
        const real = addon.addressOf(mr.buffer);
        publisher.publish({ key: mr.rkey, pdId: mr.pd.id, access: mr.access, addr: mr.addr, length: mr.length, real });
      },
      withdraw: (mr: SoftMr) => publisher.withdraw(mr.rkey, mr.buffer),
    };
    this.#poller = new Poller(
      () => this.#work(),
      () => this.#sleeping(true),
      () => this.#sleeping(false),
      SOFT_SPIN_MICROS,
      () => addon.yield(),
      () => this.#polled.some((p) => p.end.blocked),
    );
    try {
      this.#doorbell = addon.openDoorbell(() => {
        this.#sleeping(false);
        this.#poller.rung();
      });
    } catch (err) {
      this.#poller.stop();
      throw err;
    }
    this.#doorbell.unref();
  }

  get doorbellFd(): number {
    return this.#doorbell.fd;
  }

  /** The published region table, as a peer maps it: our descriptor and its size. */
  get mrTable(): { readonly fd: number; readonly size: number } {
    return { fd: this.#mrFd, size: MR_TABLE_BYTES };
  }

  /** RDMA requests our requesters executed themselves against a peer's published regions. */
  directRdma = 0;

  /** Links polled now (both directions: the ones our QPs opened, and peers' to our QPs). */
  get links(): number {
    return this.#ends.size;
  }

  add(end: PolledEnd): void {
    this.#ends.add(end);
    this.#polled = [...this.#ends];
    this.#poller.kick();
  }

  remove(end: PolledEnd): void {
    if (!this.#ends.delete(end)) return;
    this.#polled = [...this.#ends];
    end.end.close();
  }

  /** Something was sent: poll for its answer for a while. */
  kick(): void {
    if (!this.#closed) this.#poller.kick();
  }

  /** Whether a sleeping device keeps the process alive (while a CQ is ref'd, as its socket does). */
  ref(hold: boolean): void {
    if (this.#closed) return;
    if (hold) this.#doorbell.ref();
    else this.#doorbell.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.stop();
    for (const end of [...this.#ends]) this.remove(end);
    this.#doorbell.close();
    this.addon.closeFd(this.#mrFd);
    // Nothing of a closed device stays mapped (see LinkEnd.close).
    this.addon.releaseSegment(this.#mrTable);
  }

  #work(): number {
    let moved = 0;
    for (const end of this.#polled) moved += end.poll();
    if (moved > 0) deliverDueCompletions();
    return moved;
  }

  #sleeping(asleep: boolean): void {
    for (const end of this.#polled) end.end.sleeping(asleep);
  }
}
