import {
  Bml,
  BtlFlag,
  type BtlEndpoint,
  type BtlModule,
  type BtlProc,
  type BtlRegistration,
  type SendCompletion,
} from '@switchyard/core-bml';
import { Pml, type PmlOptions } from '../src/index.js';

export interface FabricSpec {
  readonly name: string;
  readonly exclusivity?: number;
  readonly latency?: number;
  readonly bandwidth?: number;
  readonly eagerLimit?: number;
  readonly maxSendSize?: number;
  /** Deliver fragments in a shuffled order (a module that does not claim ORDERED). */
  readonly reorder?: boolean;
  /** Fragments in flight per endpoint above which `send` returns false. */
  readonly highWater?: number;
  /**
   * Deliver every fragment as a view into one receive buffer that the next fragment overwrites
   * (as btl-tcp does): a receiver that keeps a view instead of copying sees its data change.
   */
  readonly reuseBuffer?: boolean;
  /** The module offers `sendi` (it copies the fragment at once; declines above `highWater`, as `send` would push back). */
  readonly sendi?: boolean | 'throws';
  /** The module offers `progress`: it delivers what is in flight on the fabric at once (as sm's rings can be polled). */
  readonly polled?: boolean;
  /**
   * GET and PUT between the ranks' registered memory (a copy, completed on the next turn), with
   * the module's `splitGetMin`; `fail` makes that operation fail. `putLateMs`: a put begins only
   * after that long (a sender busy computing); `putSlowMs`: it begins at once and takes that long.
   */
  readonly rdma?: {
    readonly splitGetMin?: number;
    readonly fail?: 'get' | 'put';
    readonly putLateMs?: number;
    readonly putSlowMs?: number;
  };
}

/**
 * A test fabric: modules that move fragments between Bml instances of one process, so the PML
 * can be tested against adversarial transports (reordering, back-pressure) without sockets.
 */
class MemoryModule implements BtlModule {
  readonly component: string;
  readonly name: string;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly flags: number;
  readonly splitGetMin: number | undefined;
  readonly businessCard = null;
  /** Registered memory by handle id: what peers may get from and put into; `putBegun` once a put has (revoke then fails). */
  readonly registered = new Map<number, { data: Uint8Array; putBegun: boolean }>();
  #nextRegistration = 1;
  /** Puts that have begun copying (a late one has not yet). */
  putsBegun = 0;
  readonly endpoints = new Map<number, BtlEndpoint>();
  inFlight = 0;
  sent = 0;
  #batch: Array<() => void> = [];
  #scratch = Buffer.alloc(0);
  progress?: () => number;
  sendi?: (endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[]) => boolean;
  /** Fragments `sendi` took, and how often it was called. */
  sentImmediately = 0;
  sendiCalls = 0;
  /** How often `progress` was called. */
  progressCalls = 0;

  constructor(
    readonly spec: FabricSpec,
    readonly rank: number,
    readonly bml: Bml,
    readonly peers: MemoryModule[],
  ) {
    this.component = spec.name;
    this.name = `${spec.name}:${rank}`;
    this.exclusivity = spec.exclusivity ?? 100;
    this.latency = spec.latency ?? 10;
    this.bandwidth = spec.bandwidth ?? 1000;
    this.eagerLimit = spec.eagerLimit ?? 4096;
    this.maxSendSize = spec.maxSendSize ?? 16384;
    this.flags = BtlFlag.SEND | (spec.reorder ? 0 : BtlFlag.ORDERED) | (spec.rdma ? BtlFlag.GET | BtlFlag.PUT : 0);
    if (spec.polled) {
      this.progress = () => {
        this.progressCalls += 1;
        return this.peers.reduce((n, m) => n + m.#runBatch(), 0);
      };
    }
    if (spec.sendi) {
      this.sendi = (endpoint, tag, segments) => {
        this.sendiCalls += 1;
        if (spec.sendi === 'throws') throw new Error(`${this.name}: sendi is broken`);
        if (this.finalized || (this.spec.highWater && this.inFlight >= this.spec.highWater)) return false;
        this.sentImmediately += 1;
        this.#enqueue(endpoint, tag, segments, undefined);
        return true;
      };
    }
    this.splitGetMin = spec.rdma?.splitGetMin;
    if (!spec.rdma) {
      this.registerMemory = undefined;
      this.get = undefined;
      this.put = undefined;
    }
  }

  registerMemory?(data: Uint8Array): BtlRegistration {
    const id = this.#nextRegistration++;
    this.registered.set(id, { data, putBegun: false });
    return {
      handle: { id },
      length: data.length,
      release: () => this.registered.delete(id),
      revoke: () => !this.registered.get(id)?.putBegun && (this.registered.delete(id), true),
    };
  }

  get?(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#copy('get', endpoint, local, remote, offset, done);
  }

  put?(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#copy('put', endpoint, local, remote, offset, done);
  }

  #copy(what: 'get' | 'put', endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    const id = (remote as { id: number }).id;
    const owner = this.peers[endpoint.rank]!;
    const fail = () => done(new Error(`${this.name}: ${what} with rank ${endpoint.rank} failed`));
    if (what === 'get') {
      const entry = owner.registered.get(id);
      setImmediate(() => {
        if (!entry || this.spec.rdma?.fail === 'get') return fail();
        local.set(entry.data.subarray(offset, offset + local.length));
        done();
      });
      return;
    }
    const begin = () => {
      const entry = owner.registered.get(id);
      if (!entry || this.spec.rdma?.fail === 'put') return setImmediate(fail);
      entry.putBegun = true;
      this.putsBegun += 1;
      setTimeout(() => {
        entry.data.set(local, offset);
        done();
      }, this.spec.rdma?.putSlowMs ?? 0);
    };
    if (this.spec.rdma?.putLateMs) setTimeout(begin, this.spec.rdma.putLateMs);
    else begin();
  }

  async addProcs(procs: readonly BtlProc[]) {
    return procs.map((p) => {
      const ep = Object.freeze({ rank: p.rank, module: this });
      this.endpoints.set(p.rank, ep);
      return ep;
    });
  }
  async delProcs(endpoints: readonly BtlEndpoint[]) {
    for (const e of endpoints) this.endpoints.delete(e.rank);
  }

  /** Ranks whose link is cut: what is in flight to them is lost, and sends fail until `repair`. */
  readonly broken = new Set<number>();

  /**
   * Cuts the link to `rank` as a reset connection does: fragments in flight are lost (their
   * completions get the error), and the module reports the endpoint failed, on both sides.
   */
  cut(rank: number): void {
    const peer = this.peers[rank]!;
    for (const [side, other] of [[this, rank], [peer, this.rank]] as const) {
      side.broken.add(other);
      side.bml.host.error({
        module: side,
        endpoint: side.endpoints.get(other)!,
        severity: 'endpoint',
        error: new Error(`${side.name}: link to rank ${other} cut`),
      });
    }
  }

  repair(rank: number): void {
    this.broken.delete(rank);
    this.peers[rank]!.broken.delete(this.rank);
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    if (this.finalized) throw new Error(`${this.name}: send after finalize`);
    this.#enqueue(endpoint, tag, segments, done);
    return !this.spec.highWater || this.inFlight < this.spec.highWater;
  }

  /** Copies the fragment and delivers it on the next turn (or the next `progress`), unless the link is cut by then. */
  #enqueue(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done: SendCompletion | undefined): void {
    const total = segments.reduce((n, s) => n + s.length, 0);
    if (total > this.maxSendSize) throw new Error(`${this.name}: fragment of ${total} > max ${this.maxSendSize}`);
    const data = Buffer.concat(segments);
    const peer = this.peers[endpoint.rank]!;
    this.inFlight += 1;
    this.sent += 1;
    this.#batch.push(() => {
      if (this.broken.has(endpoint.rank)) {
        this.inFlight -= 1;
        done?.(new Error(`${this.name}: link to rank ${endpoint.rank} is cut`));
        return;
      }
      const from = peer.endpoints.get(this.rank);
      if (!from) throw new Error(`${peer.name}: fragment from rank ${this.rank} after delProcs`);
      if (this.spec.reuseBuffer) {
        if (peer.#scratch.length < data.length) peer.#scratch = Buffer.alloc(data.length);
        data.copy(peer.#scratch);
        peer.bml.host.receive(from, tag, peer.#scratch.subarray(0, data.length));
        peer.#scratch.fill(0xdd);
      } else {
        peer.bml.host.receive(from, tag, data);
      }
      this.inFlight -= 1;
      done?.();
      if (this.spec.highWater && this.inFlight === 0) this.bml.host.writable(endpoint);
    });
    if (this.#batch.length === 1) setImmediate(() => this.#runBatch());
  }

  #runBatch(): number {
    const batch = this.#batch;
    this.#batch = [];
    if (this.spec.reorder) batch.sort(() => Math.random() - 0.5);
    for (const f of batch) f();
    return batch.length;
  }
  async flush() {}
  async finalize() {
    this.finalized = true;
  }
  finalized = false;
}

/** `size` ranks in one process, each with a Bml and a Pml, joined by one module per spec. */
export async function fabric(size: number, specs: readonly FabricSpec[], pmlOptions: PmlOptions = {}) {
  const bmls = Array.from({ length: size }, (_, rank) => new Bml({ rank, size }));
  const modules: MemoryModule[][] = [];
  for (const spec of specs) {
    const row: MemoryModule[] = [];
    for (let r = 0; r < size; r++) row.push(new MemoryModule(spec, r, bmls[r]!, row));
    modules.push(row);
  }
  const pmls = bmls.map((b) => new Pml(b, pmlOptions));
  const procs: BtlProc[] = Array.from({ length: size }, (_, rank) => ({ rank, hostname: 'here', local: true, cards: [] }));
  for (const row of modules) for (let r = 0; r < size; r++) await bmls[r]!.addModule(row[r]!, procs);
  /** A fresh instance of a transport on every rank, as a hot load makes. */
  const load = async (spec: FabricSpec) => {
    const row: MemoryModule[] = [];
    for (let r = 0; r < size; r++) row.push(new MemoryModule(spec, r, bmls[r]!, row));
    await Promise.all(bmls.map((b, r) => b.addModule(row[r]!, procs)));
    return row;
  };
  return { bmls, pmls, modules, load };
}

export function payload(n: number, seed: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** Streams numbered messages (every 7th a rendezvous) from each rank to the other until stopped. */
export function stream(pmls: Pml[], from: number, to: number) {
  let stop = false;
  let sent = 0;
  /** The count the receiver stops at, known once the sender stopped. */
  let last = -1;
  const sending = (async () => {
    while (!stop) {
      const i = sent++;
      const data = payload(i % 7 === 0 ? 20_000 : 64, from * 1_000_000 + i);
      await pmls[from]!.isend(data, to, 1).wait();
    }
  })();
  const received: number[] = [];
  let bad = 0;
  const receiving = (async () => {
    for (;;) {
      const i = received.length;
      const m = await pmls[to]!.irecv(from, 1).wait();
      const expected = payload(i % 7 === 0 ? 20_000 : 64, from * 1_000_000 + i);
      if (!Buffer.from(m.data).equals(Buffer.from(expected))) bad++;
      received.push(i);
      if (received.length === last) return;
    }
  })();
  return {
    async end() {
      stop = true;
      await sending;
      // One more message: the receiver may already wait for the next one when the sender stops.
      const i = sent++;
      last = sent;
      await pmls[from]!.isend(payload(i % 7 === 0 ? 20_000 : 64, from * 1_000_000 + i), to, 1).wait();
      await receiving;
      return { sent, received: received.length, bad };
    },
  };
}
