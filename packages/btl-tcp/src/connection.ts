import type { OnReadOpts, Socket } from 'node:net';
import { Fifo } from '@switchyard/btl-base';
import { FrameDecoder } from './framing.js';
import { FrameWriter } from './frame-writer.js';
import { encodeControl, FrameError, FrameType, HANDSHAKE_ONLY } from './framing.js';
import {
  acceptMac,
  decodeAccept,
  decodeChallenge,
  decodeReject,
  decodeResponse,
  encodeMessage,
  HandshakeError,
  macEquals,
  newNonce,
  PROTOCOL,
  responseMac,
  type RejectReason,
} from './handshake.js';

/** A fragment on its way out: the connection writes it and says when the kernel has it. */
export interface OutFrame {
  readonly tag: number;
  readonly segments: readonly Uint8Array[];
  readonly bytes: number;
  /** Written (the segments may be reused) or, with an error, lost. Called at most once by the owner. */
  complete(error?: Error): void;
}

export interface ConnectionIdentity {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly secret: string;
}

export interface ConnectionOptions {
  readonly identity: ConnectionIdentity;
  readonly handshakeTimeout: number;
  /** Largest DATA payload accepted once the connection is open (an acceptor's module sets it on accept). */
  readonly dataLimit: number;
  readonly nodelay: boolean;
  /** How to name the far side in logs (a connector knows it before the socket connects). */
  readonly remote: string;
}

/** What a connection tells its module. Every call happens on the socket's own event, synchronously. */
export interface ConnectionEvents {
  /** Acceptor: the caller proved it is `rank` of this job. Must answer with accept, reject or park. */
  authenticated(conn: Connection, rank: number): void;
  /** Connector: the acceptor accepted and proved itself; data may flow. */
  opened(conn: Connection): void;
  /** Connector: the acceptor turned the connection down. */
  rejected(conn: Connection, reason: RejectReason): void;
  data(conn: Connection, tag: number, payload: Buffer): void;
  /** The peer sent CLOSE: it is leaving on purpose. */
  peerClosing(conn: Connection): void;
  /** The socket is gone; `error` says why when it was not an orderly close. */
  closed(conn: Connection, error: Error | undefined): void;
}

export type Role = 'connector' | 'acceptor';

/**
 * Makes a connection's socket, reading into `onread` when it can; `reading: false` means it reads
 * the ordinary way ('data' events) and is paused until the connection resumes it.
 */
export type SocketOpener = (onread: OnReadOpts) => { socket: Socket; reading: boolean };
export type ConnectionState = 'handshake' | 'parked' | 'open' | 'closing' | 'closed';

const FRAME_NAMES: Record<number, string> = { 1: 'challenge', 2: 'response', 3: 'accept', 4: 'reject', 5: 'data', 6: 'close' };

/**
 * One TCP connection between two ranks: its handshake (either role), framing, and the FIFO of
 * frames handed to the socket whose write has not completed yet. Policy (which connection a
 * pair keeps, what a loss means) belongs to the module; this class only reports.
 */
export class Connection {
  readonly role: Role;
  readonly socket: Socket;
  readonly remote: string;
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  state: ConnectionState = 'handshake';
  /** The rank at the far end: known up front by a connector, after the response by an acceptor. */
  peerRank: number | undefined;
  /** The peer announced its departure with CLOSE before the socket went. */
  peerSaidClose = false;
  /** The module dropped it on purpose (lost a collision, superseded): its end is not news. */
  abandoned = false;

  readonly #options: ConnectionOptions;
  readonly #events: ConnectionEvents;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  /** Frames handed to the writer whose write has not completed, oldest first. */
  readonly #inflight = new Fifo<OutFrame>();
  /** The module took the in-flight frames away (the connection is being given up). */
  #taken = false;
  readonly #nonce = newNonce();
  #peerNonce: string | undefined;
  /** What the decoder accepts once open; until then only handshake frames (HANDSHAKE_ONLY). */
  #dataLimit: number;
  #timer: NodeJS.Timeout | undefined;
  #error: Error | undefined;

  constructor(open: SocketOpener, role: Role, options: ConnectionOptions, events: ConnectionEvents, target?: number) {
    this.role = role;
    this.remote = options.remote;
    this.peerRank = target;
    this.#options = options;
    this.#events = events;
    this.#dataLimit = options.dataLimit;
    this.#decoder = new FrameDecoder(
      (type, tag, payload) => this.#onFrame(type, tag, payload),
      HANDSHAKE_ONLY,
      (err) => this.fail(err),
    );
    const { socket, reading } = open(this.#decoder.onread);
    this.socket = socket;
    // As the listener: the PML holds the loop while traffic is awaited, an idle link does not.
    socket.unref();
    this.#writer = new FrameWriter(socket, (frames, err) => this.#written(frames, err));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(options.nodelay);
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    if (!reading) {
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.resume();
    }
    socket.on('close', () => this.#onClose());
    this.#arm(options.handshakeTimeout, () =>
      this.fail(new HandshakeError(`handshake not completed within ${options.handshakeTimeout} ms`)),
    );
    if (role === 'acceptor') {
      socket.write(encodeControl(FrameType.CHALLENGE, encodeMessage({ protocol: PROTOCOL, nonce: this.#nonce })));
    }
  }

  /** The rank that opened this connection (the simultaneous-connect rule compares it). */
  get initiator(): number | undefined {
    return this.role === 'connector' ? this.#options.identity.rank : this.peerRank;
  }

  describe(): string {
    const who = this.peerRank === undefined ? '' : ` (rank ${this.peerRank})`;
    return `${this.role === 'connector' ? 'connection to' : 'connection from'} ${this.remote}${who}`;
  }

  /** Acceptor: admit the authenticated caller; data may flow from now on. */
  accept(dataLimit: number): void {
    const { jobId, rank, secret } = this.#options.identity;
    const mac = acceptMac(secret, jobId, rank, this.peerRank!, this.#peerNonce!, this.#nonce);
    this.socket.write(encodeControl(FrameType.ACCEPT, encodeMessage({ mac })));
    this.#dataLimit = dataLimit;
    this.#open();
  }

  /** Acceptor: turn the caller down, telling it why, and close. */
  reject(reason: RejectReason): void {
    // The loser resets its attempt as soon as it has the winner: a reset here is expected.
    this.abandoned = true;
    this.socket.write(encodeControl(FrameType.REJECT, encodeMessage({ reason })));
    this.state = 'closing';
    this.socket.end();
    this.#arm(this.#options.handshakeTimeout, () => this.socket.destroy());
  }

  /** Acceptor: hold an authenticated caller whose rank is not (yet) a peer, for at most `ms`. */
  park(ms: number): void {
    this.state = 'parked';
    this.#arm(ms, () => this.fail(new HandshakeError(`rank ${this.peerRank} did not become a peer of this module within ${ms} ms`)));
  }

  /**
   * Writes one DATA frame, together with the other frames of this tick in one socket write at
   * its end (see FrameWriter). Each completes, in order, once the kernel has its bytes.
   */
  write(frame: OutFrame): void {
    this.#inflight.push(frame);
    this.#writer.add(frame.tag, frame.segments, frame.bytes);
  }

  /** Removes and returns the frames whose write has not completed (the connection is being given up). */
  takeInflight(): OutFrame[] {
    this.#taken = true;
    return this.#inflight.drain();
  }

  /**
   * Orderly close: CLOSE after everything already written, then FIN. Waits up to `lingerMs` for
   * the peer to close its side, then cuts the socket.
   */
  close(lingerMs: number): Promise<void> {
    if (this.state === 'closed') return this.closed;
    if (this.state === 'open') {
      // After every DATA frame already written.
      this.#writer.flush();
      this.socket.write(encodeControl(FrameType.CLOSE));
      this.state = 'closing';
      this.socket.end();
      this.#arm(lingerMs, () => this.socket.destroy());
    } else if (this.state !== 'closing') {
      this.abandon();
    }
    return this.closed;
  }

  /** Drops the connection at once because of `error` (reported with the close). */
  fail(error: Error): void {
    if (this.state === 'closed') return;
    this.#error ??= error;
    this.state = 'closing';
    this.#decoder.halt();
    this.#clearTimer();
    this.socket.destroy();
  }

  /** Drops the connection at once, on purpose: no error. */
  abandon(): void {
    this.abandoned = true;
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.#decoder.halt();
    this.#clearTimer();
    this.socket.destroy();
  }

  /** A batch of `frames` frames was written: complete them, oldest first. */
  #written(frames: number, err: Error | null | undefined): void {
    // Once the socket is destroyed Node completes the cancelled writes without an error, so
    // success then proves nothing: leave those frames to 'close', which fails them (a fragment
    // may be called lost that made it, never the reverse). Frames the module took were settled by it.
    if (err || this.socket.destroyed || this.#taken) return;
    for (let i = 0; i < frames; i++) {
      const frame = this.#inflight.shift();
      if (!frame) return;
      frame.complete();
    }
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #onFrame(type: FrameType, tag: number, payload: Buffer): void {
    switch (this.state) {
      case 'handshake':
        if (this.role === 'acceptor') this.#acceptorStep(type, payload);
        else this.#connectorStep(type, payload);
        return;
      case 'parked':
        throw new FrameError(`unexpected ${FRAME_NAMES[type]} frame before the connection was accepted`);
      case 'open':
      case 'closing':
        if (type === FrameType.DATA) {
          this.#events.data(this, tag, payload);
          return;
        }
        if (type === FrameType.CLOSE) {
          if (this.peerSaidClose) return;
          this.peerSaidClose = true;
          this.#events.peerClosing(this);
          if (this.state === 'open') {
            this.state = 'closing';
            this.socket.end();
            this.#arm(this.#options.handshakeTimeout, () => this.socket.destroy());
          }
          return;
        }
        throw new FrameError(`unexpected ${FRAME_NAMES[type]} frame on an open connection`);
      case 'closed':
        return;
    }
  }

  #acceptorStep(type: FrameType, payload: Buffer): void {
    if (type !== FrameType.RESPONSE) throw new HandshakeError(`expected a handshake response, got a ${FRAME_NAMES[type]} frame`);
    const r = decodeResponse(payload);
    const { jobId, rank, size, secret } = this.#options.identity;
    if (r.to !== rank) throw new HandshakeError(`response is addressed to rank ${r.to}, but this is rank ${rank}`);
    if (!macEquals(responseMac(secret, r.job, r.from, r.to, this.#nonce), r.mac)) {
      throw new HandshakeError(`authentication failed for a caller claiming rank ${r.from} (wrong job secret)`);
    }
    if (r.job !== jobId) throw new HandshakeError(`caller claiming rank ${r.from} belongs to job ${JSON.stringify(r.job)}, not this job`);
    if (r.from >= size || r.from === rank) throw new HandshakeError(`caller claims rank ${r.from}, which is no peer in a job of ${size}`);
    this.peerRank = r.from;
    this.#peerNonce = r.nonce;
    this.state = 'parked';
    this.#events.authenticated(this, r.from);
  }

  #connectorStep(type: FrameType, payload: Buffer): void {
    const { jobId, rank, secret } = this.#options.identity;
    const target = this.peerRank!;
    if (type === FrameType.CHALLENGE && this.#peerNonce === undefined) {
      const c = decodeChallenge(payload);
      this.#peerNonce = c.nonce;
      const mac = responseMac(secret, jobId, rank, target, c.nonce);
      this.socket.write(encodeControl(FrameType.RESPONSE, encodeMessage({ job: jobId, from: rank, to: target, nonce: this.#nonce, mac })));
      return;
    }
    if (type === FrameType.ACCEPT && this.#peerNonce !== undefined) {
      const a = decodeAccept(payload);
      if (!macEquals(acceptMac(secret, jobId, target, rank, this.#nonce, this.#peerNonce), a.mac)) {
        throw new HandshakeError(`the listener at ${this.remote} did not prove it is rank ${target} of this job`);
      }
      this.#open();
      this.#events.opened(this);
      return;
    }
    if (type === FrameType.REJECT && this.#peerNonce !== undefined) {
      const { reason } = decodeReject(payload);
      this.abandoned = true;
      this.state = 'closing';
      this.#clearTimer();
      this.#decoder.halt();
      this.#events.rejected(this, reason);
      this.socket.destroy();
      return;
    }
    throw new HandshakeError(`unexpected ${FRAME_NAMES[type]} frame during the handshake`);
  }

  #open(): void {
    // Synchronously, inside the frame that opened it: the next header in the same read is judged by the open limit.
    this.#decoder.dataLimit = this.#dataLimit;
    this.state = 'open';
    this.#clearTimer();
  }

  #onClose(): void {
    this.state = 'closed';
    this.#clearTimer();
    this.#decoder.halt();
    this.#events.closed(this, this.#error);
  }

  #arm(ms: number, action: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(action, ms);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
