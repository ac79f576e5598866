import type { BtlEndpoint, BtlModule, SendCompletion } from '@switchyard/btl-interface';
import type { CardAddress } from './card.js';
import type { Connection, OutFrame } from './connection.js';
import { Fifo } from '@switchyard/btl-base';
import { HEADER_SIZE } from './framing.js';

/** A flush: waits for the frames accepted up to `upTo` that were not settled when it started. */
interface Barrier {
  readonly upTo: number;
  remaining: number;
  resolve(): void;
}

/** A fragment accepted by `send`, from then until its `done`. */
export class PendingFrame implements OutFrame {
  settled = false;

  constructor(
    readonly peer: Peer,
    /** Accepted as the peer's `seq`-th frame (flush barriers compare it). */
    readonly seq: number,
    readonly tag: number,
    readonly segments: readonly Uint8Array[],
    readonly bytes: number,
    readonly done: SendCompletion | undefined,
  ) {}

  complete(error?: Error): void {
    this.peer.settle(this, error);
  }
}

export interface PeerNotify {
  writable(endpoint: BtlEndpoint): void;
  log(message: string): void;
}

export type PeerState = 'idle' | 'connecting' | 'awaiting' | 'open';

/**
 * A module's state for one peer. The BML sees only `handle`, a frozen `{ rank, module }`, so
 * none of this can be reached or changed from outside the module.
 *
 * Frames wait in `queue` while there is no connection; once one is up they go straight to its
 * socket. `queuedBytes` counts both (header included) until each frame's `done`: that is the
 * figure the high-water mark bounds.
 */
export class Peer {
  readonly handle: BtlEndpoint;
  readonly rank: number;
  readonly queue = new Fifo<PendingFrame>();
  queuedBytes = 0;
  /** `send` returned false: owe the host a `writable` once below the low-water mark. */
  wantWritable = false;
  /** The connection in use, authenticated both ways. */
  conn: Connection | undefined;
  /** Our own connection attempt, still in its handshake. */
  attempt: Connection | undefined;
  /** After the peer refused our attempt in favour of its own: how long we wait for it. */
  awaitTimer: NodeJS.Timeout | undefined;
  /** Which of `candidates` the next attempt uses. */
  candidateIndex = 0;
  /** Attempts since the last open connection that ended in a collision wait. */
  rounds = 0;
  deleted = false;
  /** Frames accepted so far (the last one's `seq`). */
  #accepted = 0;
  /** Frames accepted and not settled yet. */
  #unsettled = 0;
  /** Flushes in progress (rare). */
  #barriers: Barrier[] = [];

  constructor(
    module: BtlModule,
    rank: number,
    /** Where to call the peer, best first. */
    readonly candidates: readonly CardAddress[],
    /** Largest DATA payload we take from this peer. */
    readonly dataLimit: number,
    readonly highWaterMark: number,
    readonly notify: PeerNotify,
  ) {
    this.rank = rank;
    this.handle = Object.freeze({ rank, module });
  }

  get state(): PeerState {
    if (this.conn) return 'open';
    if (this.attempt) return 'connecting';
    if (this.awaitTimer) return 'awaiting';
    return 'idle';
  }

  get unsettledCount(): number {
    return this.#unsettled;
  }

  /** Accounts a new frame; the caller queues or writes it. */
  track(tag: number, segments: readonly Uint8Array[], bytes: number, done: SendCompletion | undefined): PendingFrame {
    const frame = new PendingFrame(this, ++this.#accepted, tag, segments, bytes, done);
    this.#unsettled += 1;
    this.queuedBytes += bytes + HEADER_SIZE;
    return frame;
  }

  get overHighWater(): boolean {
    return this.queuedBytes > this.highWaterMark;
  }

  settle(frame: PendingFrame, error?: Error): void {
    if (frame.settled) return;
    frame.settled = true;
    this.queuedBytes -= frame.bytes + HEADER_SIZE;
    this.#unsettled -= 1;
    if (this.#barriers.length) this.#release(frame.seq);
    if (frame.done) {
      try {
        frame.done(error);
      } catch (err) {
        this.notify.log(`a send completion for rank ${this.rank} threw: ${(err as Error)?.message ?? err}`);
      }
    }
    // Half the mark, so a sender that resumes gets room for a burst, not one frame per wake-up.
    if (this.wantWritable && this.queuedBytes <= this.highWaterMark / 2) {
      this.wantWritable = false;
      try {
        this.notify.writable(this.handle);
      } catch (err) {
        this.notify.log(`host.writable for rank ${this.rank} threw: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  /** Resolves once every frame accepted so far has completed, successfully or not. */
  flush(): Promise<void> {
    if (this.#unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => this.#barriers.push({ upTo: this.#accepted, remaining: this.#unsettled, resolve }));
  }

  #release(seq: number): void {
    const barriers = this.#barriers;
    for (let i = 0; i < barriers.length; i++) {
      const b = barriers[i]!;
      if (seq <= b.upTo && --b.remaining === 0) {
        barriers.splice(i--, 1);
        b.resolve();
      }
    }
  }

  /** Settles every frame not yet written with `error` (the queue empties). */
  failQueued(error: Error): void {
    for (const frame of this.queue.drain()) frame.complete(error);
  }

  clearAwait(): void {
    if (this.awaitTimer) clearTimeout(this.awaitTimer);
    this.awaitTimer = undefined;
  }
}
