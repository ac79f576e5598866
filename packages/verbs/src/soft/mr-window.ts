/**
 * A device's memory regions as its peers' requesters see them: a table in a shared segment, so a
 * requester can check an rkey and move the bytes of an RDMA read or write itself, with CMA,
 * without waking the responder's event loop (an HCA serves RDMA without the remote CPU). The
 * responder's own table (memory.ts) stays the authority: a request the published table cannot
 * serve (no slot, a fault of any kind) goes to the responder through the ring, which executes
 * and answers it as before, with its NAKs and state changes.
 *
 * slot (16 int32 words, one cache line): [0] key (0: empty), [1] pins (requesters copying now),
 * [2] PD id, [3] access flags, [4,5] I/O address, [6,7] length, [8,9] the bytes' address in the
 * owner's process. A slot's fields are written before its key is stored and never change while
 * it is set; a requester pins the slot before it reads the key and unpins after its copy, and a
 * slot is reused only once its pins are back to 0, so an unpublished region is never read or
 * written through a stale entry after the requester saw its key.
 */
export const MR_SLOTS = 4096;
const WORDS = 16;
export const MR_TABLE_BYTES = MR_SLOTS * WORDS * 4;

const K = 0;
const PINS = 1;
const PD = 2;
const ACCESS = 3;
const IO = 4;
const LEN = 6;
const REAL = 8;

function put64(words: Int32Array, at: number, value: bigint): void {
  words[at] = Number(value & 0xffff_ffffn) | 0;
  words[at + 1] = Number((value >> 32n) & 0xffff_ffffn) | 0;
}

function get64(words: Int32Array, at: number): bigint {
  return (BigInt(words[at + 1]! >>> 0) << 32n) | BigInt(words[at]! >>> 0);
}

export interface PublishedRegion {
  readonly key: number;
  readonly pdId: number;
  readonly access: number;
  readonly addr: bigint;
  readonly length: number;
  /** Where the bytes are in the owner's process. */
  readonly real: bigint;
}

/** The owner's side: publishes and withdraws its regions. */
export class MrPublisher {
  readonly #words: Int32Array;
  /** Buffers of withdrawn regions a requester still had pinned: kept alive until unpinned. */
  #draining: Array<{ slot: number; buffer: Uint8Array }> = [];

  constructor(readonly segment: SharedArrayBuffer) {
    this.#words = new Int32Array(segment);
  }

  /** Publishes a region; false when its slot is taken (the region is then served by the responder only). */
  publish(r: PublishedRegion): boolean {
    this.#sweep();
    const at = slotOf(r.key) * WORDS;
    const w = this.#words;
    if (Atomics.load(w, at + K) !== 0 || Atomics.load(w, at + PINS) !== 0) return false;
    w[at + PD] = r.pdId;
    w[at + ACCESS] = r.access;
    put64(w, at + IO, r.addr);
    put64(w, at + LEN, BigInt(r.length));
    put64(w, at + REAL, r.real);
    Atomics.store(w, at + K, r.key | 0);
    return true;
  }

  /** Withdraws the region of `key` if it is the one published; `buffer` is kept while a requester copies. */
  withdraw(key: number, buffer: Uint8Array): void {
    const at = slotOf(key) * WORDS;
    const w = this.#words;
    if (Atomics.compareExchange(w, at + K, key | 0, 0) !== (key | 0)) return;
    if (Atomics.load(w, at + PINS) !== 0) this.#draining.push({ slot: at, buffer });
    this.#sweep();
  }

  #sweep(): void {
    if (this.#draining.length) this.#draining = this.#draining.filter((d) => Atomics.load(this.#words, d.slot + PINS) !== 0);
  }
}

export type RemoteFault = 'KEY' | 'PD' | 'ACCESS' | 'BOUNDS';

/** A requester's view of a peer device's published regions. */
export class MrReader {
  readonly #words: Int32Array;

  constructor(readonly segment: SharedArrayBuffer) {
    this.#words = new Int32Array(segment);
  }

  /**
   * Checks `key`, PD, access and bounds as the responder would, and if they pass runs `copy`
   * with the address of the window in the owner's process while the slot is pinned. Returns the
   * fault, or undefined when `copy` ran (it may throw: the slot is unpinned anyway).
   */
  access(key: number, pdId: number, need: number, addr: bigint, length: number, copy: (real: bigint) => void): RemoteFault | undefined {
    const at = slotOf(key) * WORDS;
    const w = this.#words;
    Atomics.add(w, at + PINS, 1);
    try {
      if (Atomics.load(w, at + K) !== (key | 0)) return 'KEY';
      if (w[at + PD] !== pdId) return 'PD';
      if ((w[at + ACCESS]! & need) !== need) return 'ACCESS';
      const start = get64(w, at + IO);
      if (addr < start || addr + BigInt(length) > start + get64(w, at + LEN)) return 'BOUNDS';
      copy(get64(w, at + REAL) + (addr - start));
      return undefined;
    } finally {
      Atomics.sub(w, at + PINS, 1);
    }
  }
}

function slotOf(key: number): number {
  return (key >>> 8) % MR_SLOTS;
}
