import { Ring, RING_CONTROL_BYTES, type SmAddon } from '@switchyard/btl-sm/shm';
import type { MrReader } from './mr-window.js';
import { decode, encodeFields, type Packet } from './wire.js';

/**
 * The shared-memory "wire" of one connection (a requesting QP and the peer device's QP it talks
 * to): a segment the requester creates, with a request ring (requester → responder) and a
 * response ring (responder → requester), and one word per side saying that side's event loop
 * sleeps on its doorbell. The rings are btl-sm's single-producer single-consumer rings, so the
 * wire keeps RC's in-order delivery; the Unix socket of the connection stays open beside it as
 * the link's liveness (a reset device or a dead process closes it).
 *
 * header: [0] magic, [16] requester sleeping, [32] responder sleeping (own cache lines),
 *         [48] the responder's QP as requesters executing RDMA themselves need it: [48] ready
 *         (RTR or RTS, connected to this requester), [49] its access flags, [50] its PD's id.
 */
const MAGIC = 0x53565348; // 'SVSH'
const W_MAGIC = 0;
const W_SLEEPING = [16, 32] as const;
const HEADER_BYTES = 256;
const W_QP_READY = 48;
const W_QP_ACCESS = 49;
const W_QP_PD = 50;

/** Room for 15 inline SENDs of the openib BTL's largest eager fragment. */
export const REQUEST_FIFO = 1024 * 1024;
export const RESPONSE_FIFO = 64 * 1024;

/**
 * Payloads up to this many bytes travel inline in the ring; larger ones by CMA. It covers the
 * openib BTL's eager fragments on this provider (64 KiB and its header): one CMA read costs the
 * receiver more than the sender's copy into the ring and its own copy out, which the two cores
 * make side by side (64 KiB windows: 1.1-1.4 GB/s by CMA, 1.4-2.0 inline, three runs each).
 */
export const INLINE_LIMIT = 64 * 1024 + 64;

/** The largest response record: the responder takes a request only with room for its answer. */
const MAX_RESPONSE_FIELDS = 8;

export function linkBytes(requestFifo: number, responseFifo: number): number {
  return HEADER_BYTES + 2 * RING_CONTROL_BYTES + requestFifo + responseFifo;
}

export type Side = 'requester' | 'responder';

/** One side's end of a link: where it writes, where it reads, and the other side's doorbell. */
export class LinkEnd {
  readonly #words: Int32Array;
  readonly #out: Ring;
  readonly #in: Ring;
  readonly #mine: number;
  readonly #theirs: number;
  /** Set while a write found no room: the poller keeps polling, and this side retries. */
  blocked = false;
  #closed = false;
  /** The requester's map of the responder device's published regions (mr-window.ts), if it has one. */
  peerRegions?: MrReader;

  constructor(
    readonly side: Side,
    /** Kept: the mapping lives as long as this end. */
    readonly segment: SharedArrayBuffer,
    requestFifo: number,
    responseFifo: number,
    private readonly addon: SmAddon,
    /** Our copy of the other side's doorbell descriptor. */
    readonly peerDoorbell: number,
    /** The other side's pid (for CMA). */
    readonly peerPid: number,
  ) {
    this.#words = new Int32Array(segment, 0, HEADER_BYTES / 4);
    const bytes = addon.plainBuffer(segment);
    const requests = new Ring(segment, bytes, HEADER_BYTES, requestFifo);
    const responses = new Ring(segment, bytes, HEADER_BYTES + RING_CONTROL_BYTES + requestFifo, responseFifo);
    [this.#out, this.#in] = side === 'requester' ? [requests, responses] : [responses, requests];
    [this.#mine, this.#theirs] = side === 'requester' ? W_SLEEPING : [W_SLEEPING[1], W_SLEEPING[0]];
  }

  /** The requester stamps a new segment before offering it. */
  static stamp(segment: SharedArrayBuffer): void {
    Atomics.store(new Int32Array(segment, 0, 1), W_MAGIC, MAGIC);
  }

  static valid(segment: SharedArrayBuffer): boolean {
    return Atomics.load(new Int32Array(segment, 0, 1), W_MAGIC) === MAGIC;
  }

  /** Writes one packet; false when its ring has no room now (the caller keeps it and retries). */
  send(p: Packet): boolean {
    if (this.#closed) return false;
    const { fields, payload } = encodeFields(p);
    const bytes = fields.length + (payload?.length ?? 0);
    const segments = payload ? [fields, payload] : [fields];
    if (!this.#out.write(p.op, segments, bytes)) {
      // Say we wait, then try once more: the reader rings us after making room if we sleep.
      this.#out.setWaiting();
      if (!this.#out.write(p.op, segments, bytes)) {
        this.blocked = true;
        return false;
      }
    }
    this.blocked = false;
    this.#wakePeer();
    return true;
  }

  /** Whether an answer fits now (the responder's check before it executes a request). */
  canAnswer(): boolean {
    const ok = this.#out.fits(MAX_RESPONSE_FIELDS);
    if (!ok) {
      this.#out.setWaiting();
      this.blocked = !this.#out.fits(MAX_RESPONSE_FIELDS);
      return !this.blocked;
    }
    this.blocked = false;
    return true;
  }

  /**
   * Hands every packet waiting to `deliver` (payloads are views into the ring, valid during the
   * call); with `more`, stops when it says so. Wakes the other side if it waits for the room made.
   */
  drain(deliver: (p: Packet) => void, more?: () => boolean): number {
    if (this.#closed) return 0;
    // A packet may close the link (its QP failed, the connection went): stop at once then.
    const next = (): boolean => !this.#closed && (!more || more());
    const n = this.#in.drain((op, body) => deliver(decode(op, body)), next);
    if (n > 0 && this.#in.takeWaiting()) this.#wakePeer();
    return n;
  }

  /** The responder says what its QP allows now (see the header). */
  publishQp(ready: boolean, access: number, pdId: number): void {
    Atomics.store(this.#words, W_QP_ACCESS, access);
    Atomics.store(this.#words, W_QP_PD, pdId);
    Atomics.store(this.#words, W_QP_READY, ready ? 1 : 0);
  }

  /** The requester reads it (ready false: send the request through the ring). */
  peerQp(): { readonly ready: boolean; readonly access: number; readonly pdId: number } {
    const ready = Atomics.load(this.#words, W_QP_READY) === 1;
    return { ready, access: Atomics.load(this.#words, W_QP_ACCESS), pdId: Atomics.load(this.#words, W_QP_PD) };
  }

  sleeping(asleep: boolean): void {
    Atomics.store(this.#words, this.#mine, asleep ? 1 : 0);
  }

  #wakePeer(): void {
    if (this.#closed) return; // its doorbell descriptor is closed (and its number may be reused)
    if (Atomics.load(this.#words, this.#theirs) !== 0 && Atomics.compareExchange(this.#words, this.#theirs, 1, 0) === 1) {
      this.addon.ring(this.peerDoorbell);
    }
  }

  /** Process_vm_readv from the other side's memory at `address` into `dst`. */
  readPeer(address: bigint, dst: Uint8Array): void {
    this.addon.cma(false, this.peerPid, address, dst);
  }

  /** Process_vm_writev of `src` to the other side's memory at `address`. */
  writePeer(address: bigint, src: Uint8Array): void {
    this.addon.cma(true, this.peerPid, address, src);
  }

  /**
   * Closes the doorbell copy and unmaps the segment (and the peer's region table), leaving zeroed
   * private memory under views still held: nothing of a closed link stays mapped, which a
   * checkpoint needs (CRIU refuses a mapping of a deleted shared file, and openib is unloaded
   * before one).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.addon.closeFd(this.peerDoorbell);
    // After this turn: the poller may be inside a drain of this link right now.
    setImmediate(() => {
      this.addon.releaseSegment(this.segment);
      if (this.peerRegions) this.addon.releaseSegment(this.peerRegions.segment);
    });
  }
}
