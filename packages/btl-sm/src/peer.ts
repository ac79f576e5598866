import { Fifo } from '@switchyard/btl-base';
import type { BtlEndpoint, BtlModule, SendCompletion } from '@switchyard/btl-interface';
import type { SmCard } from './card.js';
import { HEADER_BYTES, H_CLOSED, H_REG, H_SLEEPING, PUT_BEGUN, ringOffset } from './layout.js';
import { Ring } from './ring.js';

/** A fragment waiting for room in the peer's ring; the caller keeps its segments until `done`. */
export interface Queued {
  readonly tag: number;
  readonly segments: readonly Uint8Array[];
  readonly bytes: number;
  readonly done: SendCompletion | undefined;
}

/** A segment mapped here: shared for Atomics, and the same memory as a plain buffer for copies (see Ring). */
export interface Mapping {
  readonly shared: SharedArrayBuffer;
  readonly bytes: ArrayBuffer;
}

/** The module's view of one same-host peer: its segment mapped here, the two rings, its doorbell. */
export class Peer {
  readonly handle: BtlEndpoint;
  /** Where we write: our ring in the peer's segment. */
  readonly out: Ring;
  /** Where the peer writes: its ring in our segment. */
  readonly in: Ring;
  readonly pending = new Fifo<Queued>();
  pendingBytes = 0;
  wantWritable = false;
  /** Set when the module forgets the peer: its doorbell descriptor is closed. */
  deleted = false;
  /** Set once the peer's module was found finalized and the loss reported. */
  lost = false;
  /** Hands an arrival from this peer up: made once, not per look at the ring. */
  deliver: (tag: number, data: Uint8Array) => void = () => {};
  readonly #header: Int32Array;
  /** The peer's segment: kept, so its mapping lives as long as the peer is ours. */
  readonly segment: SharedArrayBuffer;

  constructor(
    module: BtlModule,
    readonly rank: number,
    readonly card: SmCard,
    /** The peer's segment. */
    mapping: Mapping,
    own: Mapping,
    ownRank: number,
    ownFifo: number,
    /** Our copy of the peer's doorbell descriptor. */
    readonly doorbellFd: number,
    /** Largest fragment the peer's ring takes from us. */
    readonly limit: number,
  ) {
    this.handle = Object.freeze({ rank, module });
    this.#header = new Int32Array(mapping.shared, 0, HEADER_BYTES / 4);
    this.segment = mapping.shared;
    this.out = new Ring(mapping.shared, mapping.bytes, ringOffset(ownRank, card.fifoSize), card.fifoSize);
    this.in = new Ring(own.shared, own.bytes, ringOffset(rank, ownFifo), ownFifo);
  }

  /** Whether the peer's registration in `slot` is still the one with `key` (a put may have begun on it). */
  registrationLive(slot: number, key: number): boolean {
    return (Atomics.load(this.#header, H_REG + slot) & ~PUT_BEGUN) === key;
  }

  /**
   * Marks the peer's registration as put into, before a put copies: false if it was released or
   * revoked (the key is gone). The owner cannot revoke it once marked, so memory it has taken
   * back is never written after.
   */
  claimForPut(slot: number, key: number): boolean {
    for (;;) {
      const now = Atomics.load(this.#header, H_REG + slot);
      if ((now & ~PUT_BEGUN) !== key) return false;
      if (now & PUT_BEGUN || Atomics.compareExchange(this.#header, H_REG + slot, key, key | PUT_BEGUN) === key) return true;
    }
  }

  /** True once the peer's module was finalized (it unloaded sm; its process may go on). */
  closed(): boolean {
    return Atomics.load(this.#header, H_CLOSED) !== 0;
  }

  /** True once per sleep of the peer: the caller must ring its doorbell. */
  takeSleeping(): boolean {
    return Atomics.load(this.#header, H_SLEEPING) !== 0 && Atomics.compareExchange(this.#header, H_SLEEPING, 1, 0) === 1;
  }
}
