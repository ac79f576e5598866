import type { BtlEndpoint, BtlModule, SendCompletion } from '@switchyard/core-bml';
import type { CardAddress } from './card.js';
import type { Connection, OutFrame } from './connection.js';
import { Fifo } from './fifo.js';
import { HEADER_SIZE } from './framing.js';

interface Barrier {
  remaining: number;
  resolve(): void;
}

/** A fragment accepted by `send`, from then until its `done`. */
export class PendingFrame implements OutFrame {
  settled = false;
  /** Flushes waiting for this frame (rare: allocated only when someone flushes). */
  barriers: Barrier[] | undefined;

  constructor(
    readonly peer: Peer,
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
  readonly #unsettled = new Set<PendingFrame>();

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
    return this.#unsettled.size;
  }

  /** Accounts a new frame; the caller queues or writes it. */
  track(tag: number, segments: readonly Uint8Array[], bytes: number, done: SendCompletion | undefined): PendingFrame {
    const frame = new PendingFrame(this, tag, segments, bytes, done);
    this.#unsettled.add(frame);
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
    this.#unsettled.delete(frame);
    if (frame.barriers) {
      for (const b of frame.barriers) if (--b.remaining === 0) b.resolve();
    }
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
    if (this.#unsettled.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const barrier: Barrier = { remaining: this.#unsettled.size, resolve };
      for (const frame of this.#unsettled) (frame.barriers ??= []).push(barrier);
    });
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
