import { createServer, type Server, type Socket } from 'node:net';
import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc, type SendCompletion } from '@switchyard/btl-interface';
import { bootId, parseCard, unreachableReason, type UdsCard } from './card.js';
import { Inbound, type InboundEvents } from './inbound.js';
import { Peer, type PeerEvents, type PeerState } from './outbound.js';
import { makeSocketDir, removeSocketDir } from './socket-dir.js';
import type { UdsSettings } from './params.js';

export interface UdsModuleOptions {
  readonly rank: number;
  readonly size: number;
  readonly jobId: string;
  readonly hostname: string;
  /** Authenticate every connection you accept with it. */
  readonly secret: string;
  readonly host: BtlHost;
  readonly settings: UdsSettings;
  /** The full name of the socket directory parameter, for error messages. */
  readonly dirParamName: string;
}

/**
 * The uds module: one per process, listening on a Unix socket in a 0700 directory of its own.
 * Each rank opens its own connection to each peer it sends to, lazily, on the first send.
 */
export class UdsModule implements BtlModule {
  readonly component = 'uds';
  readonly name = 'uds';
  // ORDERED: one stream socket per direction carries every fragment to a peer, in order.
  readonly flags = BtlFlag.SEND | BtlFlag.ORDERED;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly rank: number;

  readonly #options: UdsModuleOptions;
  readonly #host: BtlHost;
  readonly #peers = new Map<number, Peer>();
  readonly #byEndpoint = new Map<BtlEndpoint, Peer>();
  readonly #inbound = new Set<Inbound>();
  readonly #server: Server;
  readonly #peerEvents: PeerEvents;
  readonly #inboundEvents: InboundEvents;
  #card: UdsCard | undefined;
  #dir: string | undefined;
  #finalized = false;

  constructor(options: UdsModuleOptions) {
    const s = options.settings;
    this.#options = options;
    this.#host = options.host;
    this.rank = options.rank;
    this.exclusivity = s.exclusivity;
    this.latency = s.latency;
    this.bandwidth = s.bandwidth;
    this.eagerLimit = s.eagerLimit;
    this.maxSendSize = s.maxSendSize;
    this.#server = createServer((socket) => this.#onIncoming(socket));
    this.#peerEvents = {
      writable: (endpoint) => this.#host.writable(endpoint),
      lost: (peer, error) => this.#report(peer.endpoint, error),
      log: (message) => this.#log(message),
    };
    this.#inboundEvents = {
      authenticated: (conn, rank) => this.#admit(conn, rank),
      data: (conn, tag, payload) => this.#onData(conn, tag, payload),
      closed: (conn, error) => {
        this.#inbound.delete(conn);
        if (error && !this.#finalized)
          this.#log(`dropped a connection${conn.rank === undefined ? '' : ` from rank ${conn.rank}`}: ${error.message}`);
      },
    };
  }

  /** Listens on a fresh socket in a private directory. */
  async start(): Promise<void> {
    const { dir, path } = makeSocketDir(this.#options.settings.dir, this.rank, this.#options.dirParamName);
    this.#dir = dir;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(path, () => {
          this.#server.off('error', reject);
          // Liveness is the PML's business: an idle listener must not keep a finished rank alive.
          this.#server.unref();
          resolve();
        });
      });
    } catch (err) {
      removeSocketDir(dir);
      throw new Error(`btl uds: cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.#server.on('error', (err) => this.#log(`listener failed: ${err.message}`));
    this.#card = { hostname: this.#options.hostname, bootId: bootId(), path, maxSendSize: this.maxSendSize };
    this.#log(`listening on ${path}`);
  }

  get businessCard(): UdsCard {
    if (!this.#card) throw new Error('btl uds: the module has not started: no address to publish');
    return this.#card;
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return procs.map((proc) => this.#addProc(proc));
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const endpoint of endpoints) {
      const peer = this.#byEndpoint.get(endpoint);
      if (!peer) continue;
      this.#forget(peer);
      closing.push(peer.close(new Error(`btl uds: the endpoint for rank ${peer.rank} was deleted`)));
      for (const conn of this.#inbound) if (conn.rank === peer.rank) closing.push(conn.close());
    }
    await Promise.all(closing);
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    const peer = this.#byEndpoint.get(endpoint);
    if (!peer) {
      const why = this.#finalized ? 'the module is finalized' : `the endpoint for rank ${endpoint?.rank} is not one of this module's`;
      return this.#refuse(done, new Error(`btl uds: cannot send: ${why}`));
    }
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) return this.#refuse(done, new Error(`btl uds: tag ${tag} is not an 8-bit tag`));
    let bytes = 0;
    for (const s of segments) bytes += s.length;
    if (bytes > this.maxSendSize) {
      return this.#refuse(done, new Error(`btl uds: fragment of ${bytes} bytes exceeds max_send_size ${this.maxSendSize}`));
    }
    return peer.send(tag, segments, done);
  }

  async flush(endpoint?: BtlEndpoint): Promise<void> {
    if (endpoint) {
      await this.#byEndpoint.get(endpoint)?.flush();
      return;
    }
    await Promise.all([...this.#peers.values()].map((peer) => peer.flush()));
  }

  async finalize(): Promise<void> {
    if (this.#finalized) return;
    this.#finalized = true;
    const waits: Promise<unknown>[] = [];
    const error = new Error('btl uds: the module was finalized');
    for (const peer of [...this.#peers.values()]) {
      this.#forget(peer);
      waits.push(peer.close(error));
    }
    for (const conn of this.#inbound) waits.push(conn.close());
    if (this.#server.listening) waits.push(new Promise<void>((resolve) => this.#server.close(() => resolve())));
    await Promise.all(waits);
    if (this.#dir) removeSocketDir(this.#dir);
    // 'close' is reported before libuv has released the handles; they go in the loop's close
    // phase, so one full turn later nothing of ours is left.
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
  }

  /** This module's view of one peer, for status displays and tests. */
  peerState(endpoint: BtlEndpoint): { state: PeerState; queuedBytes: number } | undefined {
    const peer = this.#byEndpoint.get(endpoint);
    return peer && { state: peer.state, queuedBytes: peer.queuedBytes };
  }

  #addProc(proc: BtlProc): BtlEndpoint | undefined {
    if (this.#finalized || proc.rank === this.rank) return undefined;
    if (!Number.isSafeInteger(proc.rank) || proc.rank < 0 || proc.rank >= this.#options.size) {
      this.#log(`ignoring proc with rank ${proc.rank}: not a rank of a job of ${this.#options.size}`);
      return undefined;
    }
    const existing = this.#peers.get(proc.rank);
    if (existing) return existing.endpoint;
    const parsed = proc.cards.length
      ? parseCard(proc.cards[0])
      : { problem: 'it published no uds business card (uds is not loaded there)' };
    if ('problem' in parsed) {
      this.#log(`rank ${proc.rank} is unreachable: ${parsed.problem}`);
      return undefined;
    }
    const why = unreachableReason(this.businessCard, parsed.card, proc.local);
    if (why) {
      this.#log(`rank ${proc.rank} is unreachable: ${why}`);
      return undefined;
    }
    const { jobId, secret, settings } = this.#options;
    const endpoint: BtlEndpoint = Object.freeze({ rank: proc.rank, module: this });
    const peer = new Peer(
      endpoint,
      parsed.card,
      { jobId, rank: this.rank, secret },
      settings.highWaterMark,
      settings.handshakeTimeout,
      this.#peerEvents,
    );
    this.#peers.set(peer.rank, peer);
    this.#byEndpoint.set(endpoint, peer);
    for (const conn of this.#inbound) if (conn.state === 'held' && conn.rank === peer.rank) this.#admit(conn, peer.rank);
    return endpoint;
  }

  #forget(peer: Peer): void {
    this.#peers.delete(peer.rank);
    this.#byEndpoint.delete(peer.endpoint);
  }

  #onIncoming(socket: Socket): void {
    if (this.#finalized) {
      socket.destroy();
      return;
    }
    const { jobId, rank, size, secret, settings } = this.#options;
    socket.unref();
    this.#inbound.add(new Inbound(socket, { jobId, rank, size, secret }, settings.handshakeTimeout, this.#inboundEvents));
  }

  /** An authenticated caller: accept it if its rank is a peer; else hold it (its addProcs may have run before ours). */
  #admit(conn: Inbound, rank: number): void {
    const peer = this.#peers.get(rank);
    if (!peer) {
      this.#log(`holding a connection from rank ${rank}: not a peer of this module yet`);
      conn.hold();
      return;
    }
    conn.accept(Math.max(this.maxSendSize, peer.card.maxSendSize));
  }

  #onData(conn: Inbound, tag: number, payload: Buffer): void {
    const peer = this.#peers.get(conn.rank!);
    if (!peer) {
      this.#log(`fragment (tag ${tag}) from rank ${conn.rank}, which is no peer any more; dropped`);
      return;
    }
    try {
      this.#host.receive(peer.endpoint, tag, payload);
    } catch (err) {
      this.#log(`host.receive threw on a fragment from rank ${peer.rank} (tag ${tag}): ${(err as Error)?.message ?? err}`);
    }
  }

  #report(endpoint: BtlEndpoint, error: Error): void {
    this.#log(`rank ${endpoint.rank}: ${error.message}`);
    try {
      this.#host.error({ module: this, endpoint, severity: 'endpoint', error });
    } catch (err) {
      this.#log(`host.error threw: ${(err as Error)?.message ?? err}`);
    }
  }

  #refuse(done: SendCompletion | undefined, error: Error): true {
    // Deferred: a caller never sees its completion run inside its own send call.
    if (done) process.nextTick(() => done(error));
    return true;
  }

  #log(message: string): void {
    try {
      this.#host.log(`btl uds rank ${this.rank}: ${message}`);
    } catch {
      // Diagnostics must never break the transport.
    }
  }
}
