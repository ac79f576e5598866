import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc } from '@switchyard/btl-interface';
import type { BtlRegistration, SendCompletion } from '@switchyard/btl-interface';
import { soon } from '@switchyard/btl-base';
import { parseCard, pidNamespace, type SmCard } from './card.js';
import { SmError, SmErrorCodes } from './errors.js';
import {
  HEADER_BYTES, H_CLOSED, H_FIFO, H_MAGIC, H_RANK, H_SIZE, H_SLEEPING, H_VERSION, LAYOUT_VERSION, MAGIC, RECORD_HEADER, segmentBytes,
} from './layout.js';
import type { Doorbell, SmAddon } from './native.js';
import type { SmSettings } from './params.js';
import { Peer } from './peer.js';
import { OffloadQueue } from './offload.js';
import { Poller } from './progress.js';
import { Registry, parseHandle } from './registry.js';

export interface SmModuleOptions {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  readonly host: BtlHost;
  readonly settings: SmSettings;
  readonly addon: SmAddon;
}

let created = 0;

interface FlushWaiter {
  readonly peer: Peer | undefined;
  readonly resolve: () => void;
}

/** A name for /dev/shm, unique per job, rank, process and load; it is unlinked as soon as it exists. */
function segmentName(jobId: string, rank: number): string {
  created += 1;
  const job = jobId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return `/switchyard-sm-${job}-${rank}-${process.pid}-${created}`;
}

/**
 * The sm BTL module: one per process. Its segment holds a ring per sender; a send copies the
 * fragment into our ring in the peer's segment, a receive hands up a view of the record in
 * ours. get/put copy once, between the processes' memories (CMA).
 */
export class SmModule implements BtlModule {
  readonly component = 'sm';
  readonly name = 'sm';
  readonly flags = BtlFlag.SEND | BtlFlag.GET | BtlFlag.PUT | BtlFlag.ORDERED;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly splitGetMin: number;
  readonly businessCard: SmCard;
  readonly rank: number;

  readonly #options: SmModuleOptions;
  readonly #addon: SmAddon;
  readonly #host: BtlHost;
  readonly #segment: SharedArrayBuffer;
  /** The same memory as a plain buffer, for copies (see Ring). */
  readonly #segmentBytes: ArrayBuffer;
  readonly #segmentFd: number;
  readonly #header: Int32Array;
  readonly #doorbell: Doorbell;
  readonly #poller: Poller;
  readonly #registry: Registry;
  readonly #peers = new Map<number, Peer>();
  readonly #byHandle = new Map<BtlEndpoint, Peer>();
  /** The peers in polling order (an array: the hot loop does not iterate a Map). */
  #polled: Peer[] = [];
  readonly #waiting = new Set<Peer>();
  /** Completions not yet run: a caller never sees its completion inside its own call. */
  #completions: Array<[SendCompletion, Error | undefined]> = [];
  #completing = false;
  #flushWaiters: FlushWaiter[] = [];
  #finalized = false;
  readonly #offload: OffloadQueue;

  constructor(options: SmModuleOptions) {
    const s = options.settings;
    this.#options = options;
    this.#addon = options.addon;
    this.#host = options.host;
    this.rank = options.rank;
    this.exclusivity = s.exclusivity;
    this.latency = s.latency;
    this.bandwidth = s.bandwidth;
    this.eagerLimit = s.eagerLimit;
    this.maxSendSize = s.maxSendSize;
    this.splitGetMin = s.splitMin;
    const bytes = segmentBytes(options.size, s.fifoSize);
    const { buffer, fd } = this.#addon.createSegment(segmentName(options.jobId, options.rank), bytes);
    this.#segment = buffer;
    this.#segmentBytes = this.#addon.plainBuffer(buffer);
    this.#segmentFd = fd;
    this.#header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#header[H_VERSION] = LAYOUT_VERSION;
    this.#header[H_RANK] = options.rank;
    this.#header[H_SIZE] = options.size;
    this.#header[H_FIFO] = s.fifoSize;
    Atomics.store(this.#header, H_MAGIC, MAGIC);
    this.#offload = new OffloadQueue(this.#addon, s.offloadPieces);
    this.#registry = new Registry(this.#header, (view) => this.#addon.addressOf(view));
    this.#poller = new Poller(
      () => this.#work(),
      () => Atomics.store(this.#header, H_SLEEPING, 1),
      () => Atomics.store(this.#header, H_SLEEPING, 0),
      s.spinTime,
      () => this.#addon.yield(),
      () => this.#waiting.size > 0,
    );
    try {
      this.#doorbell = this.#addon.openDoorbell(() => {
        Atomics.store(this.#header, H_SLEEPING, 0);
        this.#poller.rung();
      });
      // A sleeping doorbell must not keep a rank whose script is done alive: the PML holds the
      // loop while a request waits on traffic, and the doorbell still wakes it then.
      this.#doorbell.unref();
    } catch (err) {
      this.#poller.stop();
      this.#addon.closeFd(fd);
      throw err;
    }
    this.businessCard = {
      hostname: options.hostname,
      pid: process.pid,
      pidNamespace: pidNamespace(),
      segmentFd: fd,
      segmentSize: bytes,
      doorbellFd: this.#doorbell.fd,
      fifoSize: s.fifoSize,
      maxSendSize: s.maxSendSize,
    };
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    const endpoints = procs.map((proc) => this.#addProc(proc));
    this.#polled = [...this.#peers.values()];
    // A peer may have written (and rung while we did not know it) before we added it.
    this.#poller.kick();
    return endpoints;
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    for (const endpoint of endpoints) {
      const peer = this.#byHandle.get(endpoint);
      if (peer) this.#forget(peer, new SmError(SmErrorCodes.CLOSED, `btl sm: the endpoint for rank ${peer.rank} was deleted`));
    }
    this.#polled = [...this.#peers.values()];
    this.#settle();
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    if (this.sendi(endpoint, tag, segments)) {
      if (done) this.#complete(done, undefined);
      return true;
    }
    // Not copied now: a fragment to refuse, or one that waits for room.
    const peer = this.#byHandle.get(endpoint);
    if (!peer) {
      const why = this.#finalized ? 'the module is finalized' : `the endpoint for rank ${endpoint?.rank} is not one of this module's`;
      this.#complete(done, new SmError(this.#finalized ? SmErrorCodes.CLOSED : SmErrorCodes.BAD_SEND, `btl sm: cannot send: ${why}`));
      return true;
    }
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) {
      this.#complete(done, new SmError(SmErrorCodes.BAD_SEND, `btl sm: tag ${tag} is not an 8-bit tag`));
      return true;
    }
    let bytes = 0;
    for (const s of segments) bytes += s.length;
    if (bytes > peer.limit) {
      this.#complete(done, new SmError(SmErrorCodes.BAD_SEND, `btl sm: fragment of ${bytes} bytes exceeds max_send_size ${peer.limit}`));
      return true;
    }
    if (peer.lost || peer.closed()) {
      this.#lose(peer);
      this.#complete(done, new SmError(SmErrorCodes.CLOSED, `btl sm: cannot send: rank ${peer.rank} unloaded sm`));
      return true;
    }
    peer.pending.push({ tag, segments: segments.slice(), bytes, done });
    peer.pendingBytes += bytes;
    this.#waiting.add(peer);
    peer.out.setWaiting();
    this.#retry(peer);
    this.#poller.kick();
    if (peer.pendingBytes > this.#options.settings.highWaterMark) {
      peer.wantWritable = true;
      return false;
    }
    return true;
  }

  /** Copies the fragment into the peer's ring now, if nothing waits ahead of it and it fits; anything else is `send`'s. */
  sendi(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[]): boolean {
    const peer = this.#byHandle.get(endpoint);
    if (!peer || peer.pending.length !== 0 || peer.lost || !(tag >= 0 && tag <= 255 && (tag | 0) === tag)) return false;
    let bytes = 0;
    for (let i = 0; i < segments.length; i++) bytes += segments[i]!.length;
    if (bytes > peer.limit || peer.closed() || !peer.out.write(tag, segments, bytes)) return false;
    this.#written(peer);
    return true;
  }

  /** A fragment went into `peer`'s ring: ring its doorbell if it sleeps, and look for its answer. */
  #written(peer: Peer): void {
    if (peer.takeSleeping()) this.#ring(peer);
    this.#poller.kick();
  }

  registerMemory(data: Uint8Array): BtlRegistration {
    if (this.#finalized) throw new SmError(SmErrorCodes.CLOSED, 'btl sm: cannot register memory: the module is finalized');
    return this.#registry.register(data);
  }

  get(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#copy(false, endpoint, local, remote, offset, done);
  }

  put(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#copy(true, endpoint, local, remote, offset, done);
  }

  progress(): number {
    if (this.#finalized) return 0;
    this.#poller.polledElsewhere();
    // The completions due run too: nothing else runs while a busy-polling wait() polls.
    const completed = this.#completions.length;
    if (completed) this.#runCompletions();
    return completed + this.#work();
  }

  flush(endpoint?: BtlEndpoint): Promise<void> {
    const peer = endpoint ? this.#byHandle.get(endpoint) : undefined;
    if (endpoint && !peer) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#flushWaiters.push({ peer, resolve });
      this.#settle();
    });
  }

  async finalize(): Promise<void> {
    if (this.#finalized) return;
    this.#finalized = true;
    Atomics.store(this.#header, H_CLOSED, 1);
    this.#poller.stop();
    for (const peer of [...this.#peers.values()]) this.#forget(peer, new SmError(SmErrorCodes.CLOSED, 'btl sm: the module was finalized'));
    this.#polled = [];
    this.#registry.clear();
    this.#doorbell.close();
    this.#addon.closeFd(this.#segmentFd);
    // Nothing of sm may stay mapped once it is unloaded: a checkpoint follows (CRIU cannot save
    // a mapping of a deleted shared file), and a long job must not keep the memory.
    this.#addon.releaseSegment(this.#segment);
    this.#settle();
    await this.#offload.drained();
    // The poller's last immediate and the doorbell's uv handle go within one more turn.
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
  }

  /** Fragments waiting for room, per peer rank: for status displays and tests. */
  queued(): Map<number, number> {
    return new Map([...this.#peers.values()].map((p) => [p.rank, p.pending.length]));
  }

  #addProc(proc: BtlProc): BtlEndpoint | undefined {
    const known = this.#peers.get(proc.rank);
    if (known || this.#finalized || proc.rank === this.rank || !proc.local) return known?.handle;
    if (!(Number.isSafeInteger(proc.rank) && proc.rank >= 0 && proc.rank < this.#options.size)) {
      this.#log(`rank ${proc.rank} is not a rank of this job of ${this.#options.size}: ignored`);
      return undefined;
    }
    const parsed = parseCard(proc.cards[0]);
    if ('problem' in parsed) {
      this.#log(`rank ${proc.rank} is unreachable: ${parsed.problem}`);
      return undefined;
    }
    const card = parsed.card;
    if (card.pidNamespace !== this.businessCard.pidNamespace) {
      this.#log(`rank ${proc.rank} is unreachable: it runs in another PID namespace (${card.pidNamespace})`);
      return undefined;
    }
    let segment: SharedArrayBuffer;
    let doorbellFd: number;
    try {
      segment = this.#addon.attachSegment(card.pid, card.segmentFd, card.segmentSize);
      doorbellFd = this.#addon.peerFd(card.pid, card.doorbellFd);
    } catch (err) {
      this.#log(`rank ${proc.rank} (pid ${card.pid}) is unreachable: cannot map its segment: ${(err as Error).message}`);
      return undefined;
    }
    const header = new Int32Array(segment, 0, 8);
    const problem =
      Atomics.load(header, H_MAGIC) !== MAGIC || header[H_VERSION] !== LAYOUT_VERSION
        ? 'its segment is not an sm segment of this version'
        : header[H_RANK] !== proc.rank || header[H_SIZE] !== this.#options.size || header[H_FIFO] !== card.fifoSize
          ? `its segment belongs to rank ${header[H_RANK]} of a job of ${header[H_SIZE]}`
          : undefined;
    if (problem) {
      this.#addon.closeFd(doorbellFd);
      this.#log(`rank ${proc.rank} is unreachable: ${problem}`);
      return undefined;
    }
    const limit = Math.min(this.maxSendSize, card.fifoSize / 2 - RECORD_HEADER);
    const s = this.#options.settings;
    const own = { shared: this.#segment, bytes: this.#segmentBytes };
    const mapping = { shared: segment, bytes: this.#addon.plainBuffer(segment) };
    const peer = new Peer(this, proc.rank, card, mapping, own, this.rank, s.fifoSize, doorbellFd, limit);
    peer.deliver = (tag, data) => this.#deliver(peer, tag, data);
    this.#peers.set(peer.rank, peer);
    this.#byHandle.set(peer.handle, peer);
    this.#log(`rank ${proc.rank} (pid ${card.pid}) is reachable through shared memory`);
    return peer.handle;
  }

  /** One look at everything: arrivals on every ring, then what waits for room. Returns how much moved. */
  #work(): number {
    let moved = 0;
    const peers = this.#polled;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!;
      if (peer.deleted || !peer.in.pending) continue;
      moved += peer.in.drain(peer.deliver);
      // A producer that waits for room polls while awake: ring only one that went to sleep.
      if (peer.in.takeWaiting() && peer.takeSleeping()) this.#ring(peer);
    }
    if (this.#waiting.size) for (const peer of this.#waiting) moved += this.#retry(peer);
    return moved;
  }

  #deliver(peer: Peer, tag: number, data: Uint8Array): void {
    if (peer.deleted) return;
    try {
      this.#host.receive(peer.handle, tag, data);
    } catch (err) {
      this.#log(`host.receive threw on a fragment from rank ${peer.rank} (tag ${tag}): ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /** Moves what waits for `peer` into its ring while there is room; returns how many went. */
  #retry(peer: Peer): number {
    if (peer.closed()) {
      this.#lose(peer);
      return 0;
    }
    let moved = 0;
    for (let q = peer.pending.peek(); q; q = peer.pending.peek()) {
      if (!peer.out.write(q.tag, q.segments, q.bytes)) break;
      peer.pending.shift();
      peer.pendingBytes -= q.bytes;
      if (q.done) this.#complete(q.done, undefined);
      moved += 1;
    }
    if (moved && peer.takeSleeping()) this.#ring(peer);
    if (peer.pending.length === 0) this.#waiting.delete(peer);
    else peer.out.setWaiting();
    if (peer.wantWritable && peer.pendingBytes <= this.#options.settings.highWaterMark) {
      peer.wantWritable = false;
      try {
        this.#host.writable(peer.handle);
      } catch (err) {
        this.#log(`host.writable threw: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    if (moved) this.#settle();
    return moved;
  }

  #copy(write: boolean, endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    const what = write ? 'put' : 'get';
    const peer = this.#byHandle.get(endpoint);
    if (!peer) {
      const why = `the endpoint for rank ${endpoint?.rank} is not one of this module's`;
      this.#complete(done, new SmError(SmErrorCodes.CLOSED, `btl sm: cannot ${what}: ${why}`));
      return;
    }
    const handle = parseHandle(remote);
    if (typeof handle === 'string') {
      this.#complete(done, new SmError(SmErrorCodes.BAD_HANDLE, `btl sm: cannot ${what} with rank ${peer.rank}: ${handle}`));
      return;
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + local.length > handle.length) {
      const range = `${offset}..${offset + local.length}`;
      const why = `${what} range ${range} is outside rank ${peer.rank}'s ${handle.length} registered bytes`;
      this.#complete(done, new SmError(SmErrorCodes.BAD_HANDLE, `btl sm: ${why}`));
      return;
    }
    // A put marks the registration first (its owner cannot revoke it after); a get needs it live.
    const live = write ? peer.claimForPut(handle.slot, handle.key) : peer.registrationLive(handle.slot, handle.key);
    if (!live) {
      this.#complete(done, new SmError(SmErrorCodes.RELEASED, `btl sm: cannot ${what}: rank ${peer.rank} released that memory`));
      return;
    }
    const address = BigInt(handle.address) + BigInt(offset);
    const failed = (err: unknown) => {
      const why = `${what} with rank ${peer.rank} failed: ${(err as Error).message}`;
      return new SmError(SmErrorCodes.CMA_FAILED, `btl sm: ${why}`, { cause: err });
    };
    const { offloadMin } = this.#options.settings;
    if (offloadMin > 0 && local.length >= offloadMin) {
      const released = () =>
        !peer.registrationLive(handle.slot, handle.key)
          ? new SmError(SmErrorCodes.RELEASED, `btl sm: cannot ${what}: rank ${peer.rank} released that memory meanwhile`)
          : undefined;
      this.#offload.add({
        write, pid: peer.card.pid, address, local,
        check: released,
        // Released while the copy ran: what was read may be anything, so it did not happen.
        done: (err) => this.#complete(done, err && !(err instanceof SmError) ? failed(err) : (err ?? released())),
      });
      return;
    }
    try {
      if (local.length) this.#addon.cma(write, peer.card.pid, address, local);
      this.#complete(done, undefined);
    } catch (err) {
      this.#complete(done, failed(err));
    }
  }

  #complete(done: SendCompletion | undefined, error: Error | undefined): void {
    if (!done) return;
    this.#completions.push([done, error]);
    if (!this.#completing) {
      this.#completing = true;
      soon(this.#runCompletions);
    }
  }

  readonly #runCompletions = (): void => {
    this.#completing = false;
    const batch = this.#completions;
    this.#completions = [];
    for (const [done, error] of batch) {
      try {
        done(error);
      } catch (err) {
        this.#log(`a send completion threw: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    this.#settle();
  };

  /** Resolves the flushes whose sends have all completed. */
  #settle(): void {
    if (!this.#flushWaiters.length || this.#completions.length) return;
    const still: FlushWaiter[] = [];
    for (const w of this.#flushWaiters) {
      const busy = w.peer ? w.peer.pending.length > 0 && this.#peers.get(w.peer.rank) === w.peer : this.#waiting.size > 0;
      if (busy) still.push(w);
      else w.resolve();
    }
    this.#flushWaiters = still;
  }

  /** The peer's module is gone: fail what waits for it and tell the BML once, so it stops choosing this link. */
  #lose(peer: Peer): void {
    if (peer.lost) return;
    peer.lost = true;
    const error = new SmError(SmErrorCodes.CLOSED, `btl sm: rank ${peer.rank} unloaded sm: the link to it is lost`);
    this.#waiting.delete(peer);
    for (const q of peer.pending.drain()) this.#complete(q.done, error);
    peer.pendingBytes = 0;
    this.#log(error.message);
    try {
      this.#host.error({ module: this, endpoint: peer.handle, severity: 'endpoint', error });
    } catch (err) {
      this.#log(`host.error threw: ${(err as Error)?.message ?? String(err)}`);
    }
    this.#settle();
  }

  #forget(peer: Peer, error: Error): void {
    this.#peers.delete(peer.rank);
    this.#byHandle.delete(peer.handle);
    this.#waiting.delete(peer);
    for (const q of peer.pending.drain()) this.#complete(q.done, error);
    peer.pendingBytes = 0;
    peer.deleted = true;
    this.#addon.closeFd(peer.doorbellFd);
    this.#addon.releaseSegment(peer.segment);
  }

  /**
   * Writes the peer's doorbell, unless the peer was deleted meanwhile (a receive callback can
   * delete it in the middle of a drain): its descriptor is closed and its number may be reused.
   */
  #ring(peer: Peer): void {
    if (!peer.deleted) this.#addon.ring(peer.doorbellFd);
  }

  #log(message: string): void {
    try {
      this.#host.log(`btl sm rank ${this.rank}: ${message}`);
    } catch {
      // Diagnostics must never break the transport.
    }
  }
}
