import type { Incoming } from './matching.js';
import type { MessagePool } from './message-pool.js';

/**
 * A MATCH or RNDV header that arrived, as the matcher holds it. At first its payload is a view
 * into the module's fragment, valid only during the receive callback: a receive that matches at
 * once copies it straight to where it ends up (one copy, also for a rendezvous's first part);
 * a message left waiting (unexpected, or ahead of its sequence number) is copied out with `keep`
 * before the callback returns.
 */
/** Where an RGET's payload waits: the sender's registration, readable with this component's get. */
export interface RdmaSource {
  readonly component: string;
  readonly handle: unknown;
}

const EMPTY = new Uint8Array(0);
const SMALL_COPY = 16;

export class Arrival implements Incoming {
  /** A receive took it. */
  bound = false;
  /** An RGET: the payload is to be pulled from the sender's memory. */
  rdma: RdmaSource | undefined;
  #owned = false;

  constructor(
    readonly source: number,
    readonly tag: number,
    /** The message's size (a rendezvous's whole size, not just this first part). */
    readonly size: number,
    /** The fragment, or once kept, the payload alone. */
    public data: Uint8Array,
    /** Where the payload starts in `data`. */
    public offset: number,
    readonly sendReq: number | undefined,
  ) {}

  /** Bytes of payload that came with the header. */
  get length(): number {
    return this.data.length - this.offset;
  }

  /** The payload, for the receiver to keep. */
  payload(pool: MessagePool): Uint8Array {
    return this.#owned ? this.data : pool.copy(this.data, this.offset);
  }

  /** Copies the payload out of the module's buffer (it is about to be reused). */
  keep(pool: MessagePool): void {
    if (this.#owned) return;
    this.data = pool.hold(this.data, this.offset);
    this.offset = 0;
    this.#owned = true;
  }

  /** Copies the payload into `target` at 0. */
  copyTo(target: Uint8Array): void {
    const { data, offset } = this;
    const n = data.length - offset;
    // A loop beats a view and `set` for a few bytes (a small message's whole payload).
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) target[i] = data[offset + i]!;
    else target.set(offset === 0 ? data : data.subarray(offset), 0);
  }

  /** Done with the payload (copied out to the receive's buffer): a kept copy goes back to the pool. */
  release(pool: MessagePool): void {
    if (this.#owned) pool.recycle(this.data);
    this.data = EMPTY;
    this.offset = 0;
    this.#owned = false;
  }
}
