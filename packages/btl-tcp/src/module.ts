import type { AddressInfo, Server, Socket } from 'node:net';
import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc, type SendCompletion } from '@switchyard/btl-interface';
import { parseCard, type CardAddress, type TcpCard } from './card.js';
import { Connection, type ConnectionEvents, type ConnectionOptions, type ConnectionState, type Role } from './connection.js';
import { Peer, type PeerState } from './endpoint.js';
import type { LocalAddress } from './interfaces.js';
import { closeServer, listen } from './listener.js';
import type { TcpSettings } from './params.js';
import { candidateAddresses } from './reachability.js';
import { acceptOpener, connectOpener } from './socket-open.js';

export interface TcpModuleOptions {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  readonly secret: string;
  readonly host: BtlHost;
  readonly settings: TcpSettings;
  /** Where to listen (already filtered by if_include / if_exclude). */
  readonly addresses: readonly LocalAddress[];
}

/** One live socket of the module, for status displays and tests. */
export interface ConnectionInfo {
  readonly rank: number | undefined;
  readonly role: Role;
  /** The rank that opened it. */
  readonly initiator: number | undefined;
  readonly state: ConnectionState;
  /** The connection the module sends to that rank on. */
  readonly inUse: boolean;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/**
 * Callers still in their handshake beyond this many are turned away at once: each holds a socket
 * and a receive buffer, and a legitimate job never has more than one attempt per peer pending,
 * so 2 per rank of the job plus some slack is never reached by ranks, only by a flood.
 */
export function unauthenticatedLimit(size: number): number {
  return 64 + 2 * size;
}

/** After the peer wins a simultaneous connect we wait for its connection; this many times, then give up. */
const MAX_COLLISION_ROUNDS = 3;

/**
 * The tcp BTL module: one per process, listening on every allowed address and publishing them
 * all, with at most one connection per peer, opened lazily by whichever side sends first.
 *
 * Exactly one connection per pair: when both ranks call at once, the connection opened by the
 * lower rank wins. The higher rank accepts it and drops its own attempt; the lower rank turns
 * the higher rank's attempt down (REJECT collision), and the higher rank then waits for the
 * lower rank's call. Data is only ever written on a connection both sides have accepted, and
 * until then it waits in the peer's queue, so no fragment is lost, doubled or reordered.
 */
export class TcpModule implements BtlModule {
  readonly component = 'tcp';
  readonly name = 'tcp';
  readonly flags = BtlFlag.SEND | BtlFlag.SEND_INPLACE | BtlFlag.ORDERED;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly rank: number;

  readonly #options: TcpModuleOptions;
  readonly #host: BtlHost;
  readonly #settings: TcpSettings;
  readonly #servers: Server[] = [];
  readonly #peers = new Map<number, Peer>();
  readonly #byHandle = new Map<BtlEndpoint, Peer>();
  /** Every socket the module owns, in any state: finalize closes them all. */
  readonly #connections = new Set<Connection>();
  /** Authenticated callers whose rank addProcs has not added yet (a peer may be quicker than us). */
  readonly #parked = new Map<number, Set<Connection>>();
  readonly #events: ConnectionEvents;
  #card: TcpCard;
  #finalized = false;
  /** Incoming connections that have not authenticated yet (bounded by unauthenticatedLimit). */
  #unauthenticated = 0;
  #refusedBeforeAuthentication = 0;

  /** Listens on the allowed addresses and returns the module; throws if it could listen on none. */
  static async start(options: TcpModuleOptions): Promise<TcpModule> {
    const module = new TcpModule(options);
    await module.#listen(options.addresses);
    return module;
  }

  private constructor(options: TcpModuleOptions) {
    const s = options.settings;
    this.#options = options;
    this.#host = options.host;
    this.#settings = s;
    this.rank = options.rank;
    this.exclusivity = s.exclusivity;
    this.latency = s.latency;
    this.bandwidth = s.bandwidth;
    this.eagerLimit = s.eagerLimit;
    this.maxSendSize = s.maxSendSize;
    this.#card = { hostname: options.hostname, addresses: [], maxSendSize: s.maxSendSize };
    this.#events = {
      authenticated: (conn, rank) => this.#onAuthenticated(conn, rank),
      opened: (conn) => this.#onOpened(conn),
      rejected: (conn) => this.#onRejected(conn),
      data: (conn, tag, payload) => this.#onData(conn, tag, payload),
      peerClosing: (conn) => this.#onPeerClosing(conn),
      closed: (conn, error) => this.#onClosed(conn, error),
    };
  }

  /**
   * Incoming connections closed before they authenticated: a failed or late handshake, a frame
   * other than the handshake, or one over the limit of callers in their handshake at once.
   */
  get refusedBeforeAuthentication(): number {
    return this.#refusedBeforeAuthentication;
  }

  get businessCard(): TcpCard {
    return this.#card;
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return procs.map((proc) => this.#addProc(proc));
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const endpoint of endpoints) {
      const peer = this.#byHandle.get(endpoint);
      if (peer) closing.push(this.#forget(peer, new Error(`btl tcp: the endpoint for rank ${peer.rank} was deleted`)));
    }
    await Promise.all(closing);
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    const peer = this.#byHandle.get(endpoint);
    if (!peer) {
      const why = this.#finalized ? 'the module is finalized' : `the endpoint for rank ${endpoint?.rank} is not one of this module's`;
      return this.#refuse(done, new Error(`btl tcp: cannot send: ${why}`));
    }
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) return this.#refuse(done, new Error(`btl tcp: tag ${tag} is not an 8-bit tag`));
    let bytes = 0;
    for (const s of segments) bytes += s.length;
    if (bytes > this.maxSendSize) {
      return this.#refuse(done, new Error(`btl tcp: fragment of ${bytes} bytes exceeds max_send_size ${this.maxSendSize}`));
    }
    const conn = peer.conn;
    if (conn && peer.queue.length === 0) {
      conn.write(peer.track(tag, segments, bytes, done));
    } else {
      // Queued frames outlive this call: keep our own copy of the list (not of the bytes).
      peer.queue.push(peer.track(tag, segments.slice(), bytes, done));
      if (peer.state === 'idle') this.#connect(peer);
    }
    if (peer.overHighWater) {
      peer.wantWritable = true;
      return false;
    }
    return true;
  }

  async flush(endpoint?: BtlEndpoint): Promise<void> {
    if (endpoint) {
      await this.#byHandle.get(endpoint)?.flush();
      return;
    }
    await Promise.all([...this.#peers.values()].map((peer) => peer.flush()));
  }

  async finalize(): Promise<void> {
    if (this.#finalized) return;
    this.#finalized = true;
    const waits: Promise<unknown>[] = [];
    for (const peer of [...this.#peers.values()]) waits.push(this.#forget(peer, new Error('btl tcp: the module was finalized')));
    for (const conn of this.#connections) {
      if (conn.state === 'handshake' || conn.state === 'parked') conn.abandon();
      waits.push(conn.closed);
    }
    this.#parked.clear();
    for (const server of this.#servers) waits.push(closeServer(server));
    await Promise.all(waits);
    // A server reports 'close' before libuv has released its handle; the release runs in the
    // close phase of the loop, so one full turn later nothing of ours is left.
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
  }

  /** This module's view of one peer, for status displays and tests. */
  peerState(endpoint: BtlEndpoint): { state: PeerState; queuedBytes: number; pending: number } | undefined {
    const peer = this.#byHandle.get(endpoint);
    return peer && { state: peer.state, queuedBytes: peer.queuedBytes, pending: peer.unsettledCount };
  }

  connections(): ConnectionInfo[] {
    return [...this.#connections].map((c) => ({
      rank: c.peerRank,
      role: c.role,
      initiator: c.initiator,
      state: c.state,
      inUse: c.peerRank !== undefined && this.#peers.get(c.peerRank)?.conn === c,
      localAddress: c.socket.localAddress,
      localPort: c.socket.localPort,
      remoteAddress: c.socket.remoteAddress,
      remotePort: c.socket.remotePort,
    }));
  }

  async #listen(addresses: readonly LocalAddress[]): Promise<void> {
    const { portMin, portRange } = this.#settings;
    const published: CardAddress[] = [];
    for (const a of addresses) {
      try {
        const server = await listen(a.address, portMin, portRange, (socket) => this.#onIncoming(socket));
        server.on('error', (err) => this.#log(`listener on ${a.address} failed: ${err.message}`));
        this.#servers.push(server);
        const { port } = server.address() as AddressInfo;
        published.push({ address: a.address, family: a.family, port, cidr: a.cidr });
      } catch (err) {
        this.#log(`cannot listen on ${a.address} (${a.interface}): ${(err as Error).message}; leaving it out`);
      }
    }
    if (!published.length) {
      await Promise.all(this.#servers.map(closeServer));
      const tried = addresses.map((a) => `${a.address} (${a.interface})`).join(', ') || 'none';
      throw new Error(`btl tcp: could not listen on any address (tried: ${tried})`);
    }
    this.#card = { ...this.#card, addresses: published };
  }

  #addProc(proc: BtlProc): BtlEndpoint | undefined {
    if (this.#finalized || proc.rank === this.rank) return undefined;
    if (!Number.isSafeInteger(proc.rank) || proc.rank < 0 || proc.rank >= this.#options.size) {
      this.#log(`ignoring proc with rank ${proc.rank}: not a rank of a job of ${this.#options.size}`);
      return undefined;
    }
    const existing = this.#peers.get(proc.rank);
    if (existing) return existing.handle;
    let card: TcpCard | undefined;
    let problem = 'it published no tcp business card';
    for (const c of proc.cards) {
      const parsed = parseCard(c);
      if ('card' in parsed) {
        card = parsed.card;
        break;
      }
      problem = parsed.problem;
    }
    if (!card) {
      this.#log(`rank ${proc.rank} is unreachable: ${problem}`);
      return undefined;
    }
    const candidates = candidateAddresses(this.#card, card, proc.local);
    if (!candidates.length) {
      const theirs = card.addresses.map((a) => a.cidr).join(', ') || 'none';
      const ours = this.#card.addresses.map((a) => a.cidr).join(', ');
      this.#log(`rank ${proc.rank} on ${card.hostname} is unreachable: no network in common (theirs: ${theirs}; ours: ${ours})`);
      return undefined;
    }
    const peer = new Peer(this, proc.rank, candidates, Math.max(this.maxSendSize, card.maxSendSize), this.#settings.highWaterMark, {
      writable: (endpoint) => this.#host.writable(endpoint),
      log: (message) => this.#log(message),
    });
    this.#peers.set(peer.rank, peer);
    this.#byHandle.set(peer.handle, peer);
    const held = this.#parked.get(peer.rank);
    if (held) {
      this.#parked.delete(peer.rank);
      // Only the newest can still be wanted: the caller gives up an attempt before making another.
      const callers = [...held].filter((c) => c.state === 'parked');
      for (const stale of callers.slice(0, -1)) stale.abandon();
      if (callers.length) this.#admit(peer, callers.at(-1)!);
    }
    return peer.handle;
  }

  #connect(peer: Peer): void {
    const target = peer.candidates[peer.candidateIndex]!;
    const remote = hostPort(target.address, target.port);
    const open = connectOpener(target.address, target.port, target.family === 'IPv6' ? 6 : 4);
    const conn = new Connection(open, 'connector', this.#connectionOptions(remote, peer.dataLimit), this.#events, peer.rank);
    this.#connections.add(conn);
    peer.attempt = conn;
    this.#log(`connecting to rank ${peer.rank} at ${remote}`);
  }

  #onIncoming(socket: Socket): void {
    if (this.#finalized) {
      socket.destroy();
      return;
    }
    const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const limit = unauthenticatedLimit(this.#options.size);
    if (this.#unauthenticated >= limit) {
      socket.destroy();
      this.#refusedBeforeAuthentication += 1;
      this.#log(`refused connection from ${remote}: ${limit} callers are already in their handshake`);
      return;
    }
    this.#unauthenticated += 1;
    this.#connections.add(
      new Connection(acceptOpener(socket), 'acceptor', this.#connectionOptions(remote, this.maxSendSize), this.#events),
    );
  }

  #connectionOptions(remote: string, dataLimit: number): ConnectionOptions {
    const { jobId, rank, size, secret } = this.#options;
    return {
      identity: { jobId, rank, size, secret },
      handshakeTimeout: this.#settings.handshakeTimeout,
      dataLimit,
      nodelay: this.#settings.nodelay,
      remote,
    };
  }

  #onAuthenticated(conn: Connection, rank: number): void {
    this.#unauthenticated -= 1;
    const peer = this.#peers.get(rank);
    if (peer) {
      this.#admit(peer, conn);
      return;
    }
    this.#log(`holding ${conn.describe()}: rank ${rank} is not a peer of this module yet`);
    conn.park(this.#settings.handshakeTimeout);
    let held = this.#parked.get(rank);
    if (!held) this.#parked.set(rank, (held = new Set()));
    held.add(conn);
  }

  /** An authenticated caller: keep it, or turn it down if our own connection wins. */
  #admit(peer: Peer, conn: Connection): void {
    const ours = peer.attempt ?? (peer.conn?.role === 'connector' ? peer.conn : undefined);
    if (ours && this.rank < peer.rank) {
      this.#log(`simultaneous connect with rank ${peer.rank}: keeping ours (the lower rank's connection wins)`);
      conn.reject('collision');
      return;
    }
    if (peer.attempt) {
      this.#log(`simultaneous connect with rank ${peer.rank}: taking theirs (the lower rank's connection wins)`);
      peer.attempt.abandon();
      peer.attempt = undefined;
    }
    peer.clearAwait();
    if (peer.conn) this.#supersede(peer, peer.conn);
    conn.accept(peer.dataLimit);
    this.#attach(peer, conn);
  }

  #onOpened(conn: Connection): void {
    const peer = this.#peers.get(conn.peerRank!);
    if (!peer || peer.attempt !== conn) {
      void conn.close(this.#settings.handshakeTimeout);
      return;
    }
    peer.attempt = undefined;
    peer.clearAwait();
    if (peer.conn) this.#supersede(peer, peer.conn);
    this.#attach(peer, conn);
  }

  #attach(peer: Peer, conn: Connection): void {
    peer.conn = conn;
    peer.rounds = 0;
    peer.candidateIndex = 0;
    this.#log(`${conn.describe()} is up`);
    while (peer.queue.length && peer.conn === conn) conn.write(peer.queue.shift()!);
  }

  /**
   * The peer called again while we still had a connection: it has given the old one up (it only
   * calls when it has none), so take the new one. Frames still in the old one's hands are lost.
   */
  #supersede(peer: Peer, old: Connection): void {
    peer.conn = undefined;
    const lost = old.takeInflight();
    old.abandon();
    if (!lost.length) {
      this.#log(`rank ${peer.rank} reconnected; dropping the previous connection`);
      return;
    }
    const error = new Error(`btl tcp: rank ${peer.rank} reconnected; ${lost.length} fragment(s) on the previous connection were not sent`);
    this.#report(peer, error);
    for (const frame of lost) frame.complete(error);
  }

  #onRejected(conn: Connection): void {
    const peer = this.#peers.get(conn.peerRank!);
    if (!peer || peer.attempt !== conn) return;
    peer.attempt = undefined;
    peer.rounds += 1;
    this.#log(`rank ${peer.rank} keeps its own connection (simultaneous connect): waiting for it`);
    peer.awaitTimer = setTimeout(() => this.#awaitExpired(peer), this.#settings.handshakeTimeout);
  }

  #awaitExpired(peer: Peer): void {
    peer.awaitTimer = undefined;
    if (peer.deleted || this.#finalized || peer.state !== 'idle' || peer.queue.length === 0) return;
    if (peer.rounds >= MAX_COLLISION_ROUNDS) {
      this.#failPeer(
        peer,
        new Error(`btl tcp: rank ${peer.rank} refused our connection ${peer.rounds} times for its own, which never came`),
      );
      return;
    }
    this.#connect(peer);
  }

  #onData(conn: Connection, tag: number, payload: Buffer): void {
    const peer = this.#peers.get(conn.peerRank!);
    if (!peer || peer.conn !== conn) return;
    try {
      this.#host.receive(peer.handle, tag, payload);
    } catch (err) {
      this.#log(`host.receive threw on a fragment from rank ${peer.rank} (tag ${tag}): ${(err as Error)?.message ?? err}`);
    }
  }

  #onPeerClosing(conn: Connection): void {
    const peer = this.#peers.get(conn.peerRank!);
    if (!peer || peer.conn !== conn) return;
    peer.conn = undefined;
    const lost = conn.takeInflight();
    if (!lost.length) {
      this.#log(`rank ${peer.rank} closed its connection`);
      return;
    }
    conn.abandon();
    const error = new Error(`btl tcp: rank ${peer.rank} closed the connection with ${lost.length} fragment(s) of ours not yet sent`);
    this.#report(peer, error);
    for (const frame of lost) frame.complete(error);
  }

  #onClosed(conn: Connection, error: Error | undefined): void {
    this.#connections.delete(conn);
    const rank = conn.peerRank;
    if (conn.role === 'acceptor' && rank === undefined) {
      this.#unauthenticated -= 1;
      if (!this.#finalized) this.#refusedBeforeAuthentication += 1;
    }
    const held = rank === undefined ? undefined : this.#parked.get(rank);
    if (held?.delete(conn) && held.size === 0) this.#parked.delete(rank!);
    const peer = rank === undefined ? undefined : this.#peers.get(rank);
    if (peer && peer.attempt === conn) {
      peer.attempt = undefined;
      this.#attemptFailed(peer, conn, error ?? new Error('closed during the handshake'));
      return;
    }
    if (peer && peer.conn === conn) {
      peer.conn = undefined;
      this.#failPeer(peer, error ?? new Error(`btl tcp: the connection to rank ${peer.rank} closed unexpectedly`), conn.takeInflight());
      return;
    }
    // A connection not in use: a caller that failed its handshake, a superseded or closing one.
    const lost = conn.takeInflight();
    for (const frame of lost) frame.complete(error ?? new Error('btl tcp: the connection closed before the fragment was sent'));
    if (conn.abandoned || this.#finalized) return;
    if (error) this.#log(`dropped ${conn.describe()}: ${error.message}`);
    else if (conn.role === 'acceptor' && rank === undefined) this.#log(`dropped ${conn.describe()}: closed before authenticating`);
  }

  #attemptFailed(peer: Peer, conn: Connection, error: Error): void {
    this.#log(`cannot connect to rank ${peer.rank} at ${conn.remote}: ${error.message}`);
    if (peer.deleted || this.#finalized) return;
    if (peer.candidateIndex + 1 < peer.candidates.length) {
      peer.candidateIndex += 1;
      this.#connect(peer);
      return;
    }
    peer.candidateIndex = 0;
    const tried = peer.candidates.map((a) => hostPort(a.address, a.port)).join(', ');
    this.#failPeer(peer, new Error(`btl tcp: cannot connect to rank ${peer.rank} (tried ${tried}): ${error.message}`));
  }

  /** The peer is lost on this module: tell the host, fail what is pending. A later send calls again. */
  #failPeer(peer: Peer, error: Error, lost: readonly { complete(error?: Error): void }[] = []): void {
    peer.clearAwait();
    peer.rounds = 0;
    const queued = peer.queue.drain();
    if (!peer.deleted && !this.#finalized) this.#report(peer, error);
    for (const frame of lost) frame.complete(error);
    for (const frame of queued) frame.complete(error);
  }

  #report(peer: Peer, error: Error): void {
    this.#log(`rank ${peer.rank}: ${error.message}`);
    try {
      this.#host.error({ module: this, endpoint: peer.handle, severity: 'endpoint', error });
    } catch (err) {
      this.#log(`host.error threw: ${(err as Error)?.message ?? err}`);
    }
  }

  /** Forgets a peer: drop its queue and attempts, close its connection in order. */
  #forget(peer: Peer, error: Error): Promise<void> {
    peer.deleted = true;
    this.#peers.delete(peer.rank);
    this.#byHandle.delete(peer.handle);
    peer.clearAwait();
    const waits: Promise<void>[] = [];
    if (peer.attempt) {
      peer.attempt.abandon();
      waits.push(peer.attempt.closed);
      peer.attempt = undefined;
    }
    peer.failQueued(error);
    if (peer.conn) {
      waits.push(peer.conn.close(this.#settings.handshakeTimeout));
      peer.conn = undefined;
    }
    return Promise.all(waits).then(() => undefined);
  }

  #refuse(done: SendCompletion | undefined, error: Error): true {
    // Deferred so a caller never sees its completion run inside its own send call.
    if (done) {
      process.nextTick(() => {
        try {
          done(error);
        } catch (err) {
          this.#log(`a send completion threw: ${(err as Error)?.message ?? err}`);
        }
      });
    }
    return true;
  }

  #log(message: string): void {
    try {
      this.#host.log(`btl tcp rank ${this.rank}: ${message}`);
    } catch {
      // Diagnostics must never break the transport.
    }
  }
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
