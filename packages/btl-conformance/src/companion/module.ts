import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc, type SendCompletion } from '@switchyard/btl-interface';
import type { BaseSettings } from '@switchyard/btl-base';
import { encodeFrame, FRAME_HEADER, FrameReader, HELLO_TAG } from './framing.js';

export interface CompanionSettings extends BaseSettings {
  /** Bytes written to one peer and not yet taken by the kernel above which `send` returns false. */
  readonly highWaterMark: number;
}

export interface CompanionIdentity {
  readonly component: string;
  readonly jobId: string;
  readonly rank: number;
  readonly hostname: string;
  readonly secret: string;
  readonly host: BtlHost;
}

/** What a companion module publishes in the modex. */
export interface CompanionCard {
  readonly hostname: string;
  readonly path: string;
}

/** One peer as a companion module sees it: the connection this rank sends on, opened lazily. */
export class CompanionPeer {
  readonly endpoint: BtlEndpoint;
  socket?: Socket;
  /** Bytes handed to the socket whose write has not completed. */
  pendingBytes = 0;
  /** Sends whose completion has not run. */
  pendingSends = 0;
  wantWritable = false;
  /** The link's loss was reported: once is what the BML needs (a reconnect that fails too is the same loss). */
  lossReported = false;
  readonly #idleWaiters: Array<() => void> = [];

  constructor(
    module: BtlModule,
    readonly rank: number,
    readonly path: string,
  ) {
    this.endpoint = Object.freeze({ rank, module });
  }

  settled(): void {
    if (this.pendingSends === 0) this.#idleWaiters.splice(0).forEach((w) => w());
  }

  idle(): Promise<void> {
    if (this.pendingSends === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

/**
 * The conformance kit's companion transport: Unix-domain sockets between ranks on one host (and
 * a rank to itself), one connection per direction, so fragments to one endpoint stay in order.
 * The kit's jobs move traffic onto it while they switch, unload and reload the BTL under test.
 * Small and plain on purpose; its methods `transmit`, `deliver` and `authenticate` are where the
 * kit's broken fixtures bend it.
 */
export class CompanionModule implements BtlModule {
  readonly flags: number = BtlFlag.SEND | BtlFlag.ORDERED;
  readonly latency: number;
  readonly bandwidth: number;
  readonly component: string;
  readonly name: string;
  readonly exclusivity: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly businessCard: CompanionCard;
  readonly identity: CompanionIdentity;
  readonly settings: CompanionSettings;
  readonly peers = new Map<number, CompanionPeer>();
  readonly #byEndpoint = new Map<BtlEndpoint, CompanionPeer>();
  /** Every socket accepted from a caller: finalize closes them. */
  readonly accepted = new Set<Socket>();
  /** Frames from ranks addProcs has not added yet (a peer may be quicker than us). */
  readonly #early = new Map<number, Array<[number, Uint8Array]>>();
  readonly #server: Server;
  readonly #dir: string;
  #finalized = false;

  static async start(identity: CompanionIdentity, settings: CompanionSettings): Promise<CompanionModule> {
    // In a kit job, under the folder the kit removes when the job ends (even if it had to kill it).
    const dir = mkdtempSync(join(process.env.SWITCHYARD_KIT_SCRATCH ?? tmpdir(), 'sy-kit-'));
    const module = new this(identity, settings, dir);
    await new Promise<void>((resolve, reject) => {
      module.#server.once('error', reject);
      module.#server.listen(module.businessCard.path, () => resolve());
    });
    // No handle of a transport keeps a rank alive (rule script-end): the runtime holds the loop while a message is awaited.
    module.#server.unref();
    return module;
  }

  protected constructor(identity: CompanionIdentity, settings: CompanionSettings, dir: string) {
    this.identity = identity;
    this.settings = settings;
    this.component = identity.component;
    this.name = identity.component;
    this.exclusivity = settings.exclusivity;
    this.latency = settings.latency;
    this.bandwidth = settings.bandwidth;
    this.eagerLimit = settings.eagerLimit;
    this.maxSendSize = settings.maxSendSize;
    this.#dir = dir;
    this.businessCard = { hostname: identity.hostname, path: join(dir, `r${identity.rank}.sock`) };
    this.#server = createServer((socket) => this.#accept(socket));
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return procs.map((proc) => {
      if (this.#finalized || !proc.local) return undefined;
      const card = proc.cards[0] as Partial<CompanionCard> | undefined;
      if (!card || typeof card.path !== 'string') return undefined;
      let peer = this.peers.get(proc.rank);
      if (!peer) {
        peer = new CompanionPeer(this, proc.rank, card.path);
        this.peers.set(proc.rank, peer);
        this.#byEndpoint.set(peer.endpoint, peer);
      }
      if (this.#early.has(proc.rank)) {
        // After addProcs has returned the endpoint (the host knows it only then), in arrival order:
        // frames arriving meanwhile join the held ones.
        const endpoint = peer.endpoint;
        setImmediate(() => {
          const held = this.#early.get(proc.rank);
          this.#early.delete(proc.rank);
          if (this.#byEndpoint.has(endpoint)) for (const [tag, payload] of held ?? []) this.deliver(endpoint, tag, payload);
        });
      }
      return peer.endpoint;
    });
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const endpoint of endpoints) {
      const peer = this.#byEndpoint.get(endpoint);
      if (!peer) continue;
      this.#byEndpoint.delete(endpoint);
      this.peers.delete(peer.rank);
      if (peer.socket) closing.push(endSocket(peer.socket));
    }
    await Promise.all(closing);
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    const peer = this.#byEndpoint.get(endpoint);
    const complete = (error?: Error) => {
      if (peer) {
        peer.pendingSends -= 1;
        peer.settled();
      }
      done?.(error);
    };
    if (!peer || this.#finalized)
      return this.#refuse(
        done,
        `${this.name}: cannot send: ${this.#finalized ? 'the module is finalized' : `no endpoint for rank ${endpoint?.rank}`}`,
      );
    const frame = encodeFrame(tag & 0xff, segments);
    const refused = this.refusal(tag, frame.length - FRAME_HEADER);
    if (refused) return this.#refuse(done, refused);
    peer.pendingSends += 1;
    peer.pendingBytes += frame.length;
    this.transmit(peer, frame, (error) => {
      peer.pendingBytes -= frame.length;
      complete(error);
      if (peer.wantWritable && peer.pendingBytes <= this.settings.highWaterMark / 2) {
        peer.wantWritable = false;
        this.identity.host.writable(peer.endpoint);
      }
    });
    if (peer.pendingBytes > this.settings.highWaterMark) {
      peer.wantWritable = true;
      return false;
    }
    return true;
  }

  /** Why a fragment cannot be sent (a tag outside 1-255, more than maxSendSize bytes), or undefined. */
  refusal(tag: number, length: number): string | undefined {
    if (!Number.isInteger(tag) || tag <= HELLO_TAG || tag > 255) return `${this.name}: tag ${tag} is not an 8-bit tag above 0`;
    if (length > this.maxSendSize) return `${this.name}: fragment of ${length} bytes exceeds max_send_size ${this.maxSendSize}`;
    return undefined;
  }

  /**
   * A fragment from a rank addProcs has not added yet (its addProcs ran before ours): held, and
   * handed to the host once addProcs adds that rank.
   */
  hold(from: number, tag: number, payload: Uint8Array): void {
    this.#early.set(from, [...(this.#early.get(from) ?? []), [tag, Buffer.from(payload)]]);
  }

  /** A link to a peer failed: the BML learns it lost that peer on this module. */
  lost(peer: CompanionPeer, error: Error): void {
    this.identity.host.error({
      module: this,
      endpoint: peer.endpoint,
      severity: 'endpoint',
      error: new Error(`${this.name}: connection to rank ${peer.rank} failed: ${error.message}`),
    });
  }

  /** Writes one frame on the peer's connection (opened on first use); `written` runs when the kernel took it. */
  transmit(peer: CompanionPeer, frame: Buffer, written: (error?: Error) => void): void {
    peer.socket ??= this.#connect(peer);
    peer.socket.write(frame, (error) => {
      // A write after the peer's close was read (the socket ended, not yet closed) fails here
      // alone: no 'error' event follows, so the loss would go unreported.
      if (error) this.#lose(peer, error);
      written(error ?? undefined);
    });
  }

  /** Reports a peer's link lost, once, unless the module or that peer is already gone. */
  #lose(peer: CompanionPeer, error: Error): void {
    if (this.#finalized || this.peers.get(peer.rank) !== peer || peer.lossReported) return;
    peer.lossReported = true;
    this.lost(peer, error);
  }

  /** Hands an arrived fragment to the host. */
  deliver(endpoint: BtlEndpoint, tag: number, payload: Uint8Array): void {
    this.identity.host.receive(endpoint, tag, payload);
  }

  async flush(endpoint?: BtlEndpoint): Promise<void> {
    const peers = endpoint ? [this.#byEndpoint.get(endpoint)].filter((p) => p !== undefined) : [...this.peers.values()];
    await Promise.all(peers.map((p) => p.idle()));
  }

  async finalize(): Promise<void> {
    if (this.#finalized) return;
    this.#finalized = true;
    const closing: Promise<void>[] = [];
    for (const peer of this.peers.values()) if (peer.socket) closing.push(destroySocket(peer.socket));
    for (const socket of this.accepted) closing.push(destroySocket(socket));
    this.peers.clear();
    this.#byEndpoint.clear();
    this.#early.clear();
    closing.push(new Promise((resolve) => this.#server.close(() => resolve())));
    await Promise.all(closing);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #connect(peer: CompanionPeer): Socket {
    const socket = createConnection(peer.path);
    socket.unref();
    const { jobId, rank, secret } = this.identity;
    socket.write(encodeFrame(HELLO_TAG, [Buffer.from(JSON.stringify({ rank, mac: helloMac(secret, jobId, rank) }))]));
    socket.on('error', (error) => this.#lose(peer, error));
    socket.on('close', () => {
      if (peer.socket === socket) peer.socket = undefined;
    });
    // One direction only: the peer never writes on it, but its closing must be noticed.
    socket.on('data', () => {});
    return socket;
  }

  #accept(socket: Socket): void {
    if (this.#finalized) {
      socket.destroy();
      return;
    }
    socket.unref();
    this.accepted.add(socket);
    socket.on('close', () => this.accepted.delete(socket));
    socket.on('error', () => {});
    let from: number | undefined;
    const reader = new FrameReader(this.maxSendSize, (tag, payload) => {
      if (from === undefined) {
        from = this.authenticate(tag, payload);
        if (from === undefined) socket.destroy();
        return;
      }
      const peer = this.peers.get(from);
      // The frame's bytes live in the reader's buffer: the host copies what it keeps.
      if (peer && !this.#early.has(from)) this.deliver(peer.endpoint, tag, payload);
      else this.hold(from, tag, payload);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        this.identity.host.log(`${this.name}: dropping a connection: ${(error as Error).message}`);
        socket.destroy();
      }
    });
  }

  /** The rank a caller's first frame proves it is (a hello whose MAC only the job's secret makes), or undefined: close it. */
  authenticate(tag: number, payload: Buffer): number | undefined {
    if (tag !== HELLO_TAG) return undefined;
    try {
      const hello = JSON.parse(payload.toString()) as { rank: number; mac: string };
      const expected = Buffer.from(helloMac(this.identity.secret, this.identity.jobId, hello.rank));
      const given = Buffer.from(String(hello.mac));
      return given.length === expected.length && timingSafeEqual(given, expected) ? hello.rank : undefined;
    } catch {
      return undefined;
    }
  }

  #refuse(done: SendCompletion | undefined, message: string): true {
    if (done) process.nextTick(done, new Error(message));
    return true;
  }
}

function helloMac(secret: string, jobId: string, rank: number): string {
  return createHmac('sha256', secret).update(`${jobId}:${rank}`).digest('hex');
}

function endSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.end();
  });
}

function destroySocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
}
