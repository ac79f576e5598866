import type { Socket } from 'node:net';
import { Deadline } from './deadline.js';
import { encodeControl, FrameReader, FrameType } from './framing.js';
import { acceptMac, decodeResponse, HandshakeError, macEquals, newNonce, PROTOCOL, responseMac } from './handshake.js';
import type { Identity } from './outbound.js';

/** What an accepted connection tells its module. */
export interface InboundEvents {
  /** The caller proved it is `rank` of this job: the module accepts it now or holds it until addProcs adds the rank. */
  authenticated(conn: Inbound, rank: number): void;
  data(conn: Inbound, tag: number, payload: Buffer): void;
  closed(conn: Inbound, error: Error | undefined): void;
}

/**
 * A connection a peer opened to our socket: it carries that peer's fragments to us. We check
 * who calls (challenge-response with the job's secret) and only then accept it.
 */
export class Inbound {
  rank: number | undefined;
  state: 'handshake' | 'held' | 'open' | 'closed' = 'handshake';
  readonly closed: Promise<void>;
  readonly #reader: FrameReader;
  readonly #nonce = newNonce();
  #peerNonce = '';
  readonly #deadline: Deadline;
  #error: Error | undefined;

  constructor(
    readonly socket: Socket,
    readonly identity: Identity & { readonly size: number },
    readonly handshakeTimeout: number,
    readonly events: InboundEvents,
  ) {
    this.#deadline = new Deadline(handshakeTimeout);
    this.#reader = new FrameReader((type, tag, payload) => this.#onFrame(type, tag, payload), 0);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => void (this.#error ??= err));
    socket.on('close', () => {
      this.state = 'closed';
      this.#deadline.clear();
      this.#reader.halt();
      this.events.closed(this, this.#error);
    });
    this.#deadline.arm(() => this.fail(new HandshakeError(`handshake not completed within ${handshakeTimeout} ms`)));
    socket.write(encodeControl(FrameType.CHALLENGE, { protocol: PROTOCOL, nonce: this.#nonce }));
  }

  /** Admits the authenticated caller; `dataLimit` is the largest fragment it may send. */
  accept(dataLimit: number): void {
    const { jobId, rank, secret } = this.identity;
    this.#deadline.clear();
    this.#reader.dataLimit = dataLimit;
    this.state = 'open';
    this.socket.write(encodeControl(FrameType.ACCEPT, { mac: acceptMac(secret, jobId, rank, this.rank!, this.#peerNonce, this.#nonce) }));
  }

  /** Waits, for at most the handshake timeout, for addProcs to add the caller's rank. */
  hold(): void {
    this.state = 'held';
    this.#deadline.arm(() =>
      this.fail(new HandshakeError(`rank ${this.rank} did not become a peer of this module within ${this.handshakeTimeout} ms`)),
    );
  }

  fail(error: Error): void {
    this.#error ??= error;
    this.#reader.halt();
    this.socket.destroy();
  }

  /** Stop reading and close our side; the peer sees the end of its connection. */
  close(): Promise<void> {
    this.#reader.halt();
    this.socket.destroy();
    return this.closed;
  }

  #onFrame(type: number, tag: number, payload: Buffer): void {
    if (this.state === 'open' && type === FrameType.DATA) {
      this.events.data(this, tag, payload);
      return;
    }
    if (this.state !== 'handshake' || type !== FrameType.RESPONSE)
      throw new HandshakeError(`unexpected frame type ${type} (${this.state})`);
    const r = decodeResponse(payload);
    const { jobId, rank, size, secret } = this.identity;
    if (r.to !== rank) throw new HandshakeError(`caller addressed rank ${r.to}, but this is rank ${rank}`);
    if (!macEquals(responseMac(secret, r.job, r.from, r.to, this.#nonce), r.mac)) {
      throw new HandshakeError(`authentication failed for a caller claiming rank ${r.from} (wrong job secret)`);
    }
    if (r.job !== jobId) throw new HandshakeError(`caller claiming rank ${r.from} belongs to job ${JSON.stringify(r.job)}`);
    if (r.from >= size || r.from === rank) throw new HandshakeError(`caller claims rank ${r.from}, which is no peer in a job of ${size}`);
    this.rank = r.from;
    this.#peerNonce = r.nonce;
    this.state = 'held';
    this.events.authenticated(this, r.from);
  }
}
