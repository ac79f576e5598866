import { connect, type Socket } from 'node:net';
import { Fifo } from '@switchyard/btl-base';
import type { BtlEndpoint, SendCompletion } from '@switchyard/btl-interface';
import type { UdsCard } from './card.js';
import { Deadline } from './deadline.js';
import { encodeControl, encodeUdsFrame, FrameReader, FrameType } from './framing.js';
import { acceptMac, decodeAccept, decodeChallenge, HandshakeError, macEquals, newNonce, responseMac } from './handshake.js';

/** Who we are, for the handshake. */
export interface Identity {
  readonly jobId: string;
  readonly rank: number;
  readonly secret: string;
}

/** What a peer tells its module. */
export interface PeerEvents {
  /** `send` returned false before; the queue is below half the mark now. */
  writable(endpoint: BtlEndpoint): void;
  /** The connection failed with fragments of ours pending: they are lost (their `done` got `error`). */
  lost(peer: Peer, error: Error): void;
  log(message: string): void;
}

interface Frame {
  readonly seq: number;
  readonly data: Buffer;
  readonly done: SendCompletion | undefined;
}

export type PeerState = 'idle' | 'connecting' | 'open' | 'closing';

/**
 * Our side of the traffic to one peer: the connection we open to its socket (used in this
 * direction only; its fragments to us come on the connection it opens to ours), the frames
 * waiting for it, and the accounting `send`'s back-pressure and `flush` need.
 *
 * One connection per direction means no simultaneous-connect race to resolve, and fragments to
 * a peer keep their order: one socket carries them all, and a frame is written only after
 * everything queued before it.
 */
export class Peer {
  readonly endpoint: BtlEndpoint;
  state: PeerState = 'idle';
  /** Accepted and not yet written (waiting for the connection), oldest first. */
  readonly #queued: Frame[] = [];
  /**
   * Written to the socket, waiting for its write callback, oldest first. A Fifo, not an array:
   * a stream sent in one synchronous run leaves tens of thousands here, and Array.prototype.shift
   * on that many is linear; their callbacks, which all run in one go, then held the loop for
   * seconds (tens of them on a loaded machine), reading nothing, so peers' fragments came late.
   */
  readonly #inflight = new Fifo<Frame>();
  #socket: Socket | undefined;
  readonly #deadline: Deadline;
  #queuedBytes = 0;
  #wantWritable = false;
  #accepted = 0;
  #settled = 0;
  readonly #barriers: Array<{ upTo: number; resolve(): void }> = [];
  #closed: Promise<void> = Promise.resolve();

  constructor(
    endpoint: BtlEndpoint,
    readonly card: UdsCard,
    readonly identity: Identity,
    readonly highWaterMark: number,
    readonly handshakeTimeout: number,
    readonly events: PeerEvents,
  ) {
    this.endpoint = endpoint;
    this.#deadline = new Deadline(handshakeTimeout);
  }

  get rank(): number {
    return this.endpoint.rank;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Takes one fragment (copied: the caller may reuse its segments at once). False: over the high-water mark. */
  send(tag: number, segments: readonly Uint8Array[], done: SendCompletion | undefined): boolean {
    const frame: Frame = { seq: ++this.#accepted, data: encodeUdsFrame(FrameType.DATA, tag, segments), done };
    this.#queuedBytes += frame.data.length;
    if (this.state === 'open' && this.#queued.length === 0) this.#write(frame);
    else {
      this.#queued.push(frame);
      if (this.state === 'idle') this.#connect();
    }
    if (this.#queuedBytes > this.highWaterMark) {
      this.#wantWritable = true;
      return false;
    }
    return true;
  }

  /** Resolves once every frame accepted so far has completed, written or failed. */
  flush(): Promise<void> {
    if (this.#settled === this.#accepted) return Promise.resolve();
    return new Promise((resolve) => this.#barriers.push({ upTo: this.#accepted, resolve }));
  }

  /** Orderly close: what was written goes out first; what never got a connection fails with `error`. */
  close(error: Error): Promise<void> {
    this.#failAll(this.#queued.splice(0), error);
    const socket = this.#socket;
    if (socket && this.state === 'open') {
      this.state = 'closing';
      socket.end();
      this.#deadline.arm(() => socket.destroy());
    } else socket?.destroy();
    return this.#closed;
  }

  /** Drops the connection at once; everything pending fails with `error`. */
  destroy(error: Error): Promise<void> {
    this.#failAll(this.#queued.splice(0), error);
    this.#failAll(this.#inflight.drain(), error);
    this.#socket?.destroy();
    return this.#closed;
  }

  #connect(): void {
    const { jobId, rank, secret } = this.identity;
    const socket = connect(this.card.path);
    // As the listener: the PML keeps the loop alive while it waits for traffic, the link does not.
    socket.unref();
    this.#socket = socket;
    this.state = 'connecting';
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    const nonce = newNonce();
    let peerNonce: string | undefined;
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      socket.destroy();
    };
    const reader = new FrameReader((type, _tag, payload) => {
      if (this.state !== 'connecting') throw new HandshakeError(`unexpected frame type ${type} from the peer`);
      if (type === FrameType.CHALLENGE && peerNonce === undefined) {
        peerNonce = decodeChallenge(payload);
        const mac = responseMac(secret, jobId, rank, this.rank, peerNonce);
        socket.write(encodeControl(FrameType.RESPONSE, { job: jobId, from: rank, to: this.rank, nonce, mac }));
      } else if (type === FrameType.ACCEPT && peerNonce !== undefined) {
        if (!macEquals(acceptMac(secret, jobId, this.rank, rank, nonce, peerNonce), decodeAccept(payload))) {
          throw new HandshakeError(`the socket ${this.card.path} did not prove it is rank ${this.rank} of this job`);
        }
        this.#open();
      } else throw new HandshakeError(`unexpected frame type ${type} during the handshake`);
    }, 0);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        reader.halt();
        fail(err as Error);
      }
    });
    socket.on('error', (err) => void (failure ??= err));
    socket.on('close', () => this.#onClose(socket, failure));
    this.#deadline.arm(() => fail(new HandshakeError(`handshake with rank ${this.rank} not completed within ${this.handshakeTimeout} ms`)));
  }

  #open(): void {
    this.#deadline.clear();
    this.state = 'open';
    this.events.log(`connected to rank ${this.rank} at ${this.card.path}`);
    for (const frame of this.#queued.splice(0)) this.#write(frame);
  }

  #write(frame: Frame): void {
    const socket = this.#socket!;
    this.#inflight.push(frame);
    socket.write(frame.data, (err) => {
      // A destroyed socket completes its cancelled writes too: 'close' fails those instead.
      if (err || socket.destroyed || this.#socket !== socket) return;
      const written = this.#inflight.shift();
      if (written) this.#settle(written);
    });
  }

  #onClose(socket: Socket, failure: Error | undefined): void {
    if (this.#socket !== socket) return;
    this.#deadline.clear();
    this.#socket = undefined;
    const wasClosing = this.state === 'closing';
    this.state = 'idle';
    const pending = [...this.#inflight.drain(), ...this.#queued.splice(0)];
    // A peer that leaves (its delProcs or finalize) with nothing of ours pending is no error:
    // the next send simply calls again.
    if (!pending.length) {
      if (failure && !wasClosing) this.events.log(`connection to rank ${this.rank} ended: ${failure.message}`);
      return;
    }
    const error = new Error(
      `btl uds: the connection to rank ${this.rank} (${this.card.path}) ${failure ? `failed: ${failure.message}` : 'closed'} with ` +
        `${pending.length} fragment(s) not sent`,
    );
    this.#failAll(pending, error);
    if (!wasClosing) this.events.lost(this, error);
  }

  #failAll(frames: Frame[], error: Error): void {
    for (const frame of frames) this.#settle(frame, error);
  }

  #settle(frame: Frame, error?: Error): void {
    this.#queuedBytes -= frame.data.length;
    this.#settled += 1;
    if (frame.done) {
      try {
        frame.done(error);
      } catch (err) {
        this.events.log(`a send completion for rank ${this.rank} threw: ${(err as Error)?.message ?? err}`);
      }
    }
    while (this.#barriers.length && this.#barriers[0]!.upTo <= this.#settled) this.#barriers.shift()!.resolve();
    // Half the mark: a sender that resumes gets room for a burst, not one frame per wake-up.
    if (this.#wantWritable && this.#queuedBytes <= this.highWaterMark / 2) {
      this.#wantWritable = false;
      try {
        this.events.writable(this.endpoint);
      } catch (err) {
        this.events.log(`host.writable for rank ${this.rank} threw: ${(err as Error)?.message ?? err}`);
      }
    }
  }
}
