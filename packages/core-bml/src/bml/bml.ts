import { AsyncSeriesHook, SyncHook } from 'tapable';
import { BtlTag } from '../btl/flags.js';
import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlModule, BtlProc } from '../btl/types.js';
import { BmlBtl, type TrafficCounters } from './bml-btl.js';
import { BmlEndpoint } from './bml-endpoint.js';

/** Receives the fragments of one active-message tag. `data` is valid only during the call. */
export type FragmentHandler = (peer: BmlEndpoint, data: Uint8Array, via: BmlBtl) => void;

/** Which components may carry traffic to which peer (Open MPI's exclusivity override, per peer). */
export type TrafficPolicy = (rank: number, component: string) => boolean;

export type FtState = 'checkpoint' | 'continue' | 'restart';

/** The BML's own tag: drain markers, sent on the link being drained. */
export const BML_MARKER_TAG = BtlTag.BML_BASE;
const MARKER_SIZE = 12;

/** A drain that did not finish in time: names the links that still wait. */
export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
  readonly code = 'ERR_SWITCHYARD_DRAIN_TIMEOUT';
}

export interface BmlOptions {
  readonly rank: number;
  readonly size: number;
  readonly log?: (message: string) => void;
}

/**
 * The BTL multiplexing layer: per-peer endpoints with their eager, send and RDMA lists, the
 * active-message table, and adding / removing modules while traffic flows.
 */
export class Bml {
  readonly hooks = Object.freeze({
    /** A module was added and its reachable peers' lists recomputed. */
    moduleAdded: new SyncHook<[BtlModule]>(['module']),
    /** A module was taken out of every list (its in-flight work still completes). */
    moduleRemoved: new SyncHook<[BtlModule]>(['module']),
    /** A peer's lists changed. */
    endpointChanged: new SyncHook<[BmlEndpoint]>(['endpoint']),
    /** A module reported an error. */
    error: new SyncHook<[BtlErrorEvent]>(['event']),
    /** A module can take fragments again for this peer. */
    writable: new SyncHook<[BmlBtl]>(['btl']),
    /** The traffic policy changed (`switch`, `reset`, `apply`). */
    policyChanged: new SyncHook<[TrafficPolicy]>(['policy']),
    /** Links are about to be drained: they carry no new traffic already. */
    beforeDrain: new AsyncSeriesHook<[readonly BmlBtl[]]>(['links']),
    /** Every link drained: both sides sent their markers and everything counted arrived. */
    afterDrain: new AsyncSeriesHook<[readonly BmlBtl[]]>(['links']),
    /** Checkpoint / restart notifications (Open MPI's ft_event): 'checkpoint', 'continue', 'restart'. */
    ftEvent: new AsyncSeriesHook<[FtState]>(['state']),
  });

  readonly rank: number;
  readonly size: number;
  /** One per rank, created once and never replaced. */
  readonly endpoints: readonly BmlEndpoint[];
  readonly #handlers = new Map<number, FragmentHandler>();
  readonly #byBtlEndpoint = new Map<BtlEndpoint, BmlBtl>();
  readonly #modules = new Set<BtlModule>();
  /** Fragments that came over a module while its addProcs ran: delivered once it returns. */
  readonly #early = new Map<BtlModule, Array<{ endpoint: BtlEndpoint; tag: number; data: Uint8Array }>>();
  /** Traffic of links already removed, by component, so totals survive unload and reload. */
  readonly #pastTraffic = new Map<string, TrafficCounters>();
  readonly #log: (message: string) => void;
  #policy: TrafficPolicy = () => true;
  /** Exclusivity overrides by component, from a run-time change of `btl_<component>_exclusivity`. */
  readonly #exclusivity = new Map<string, number>();

  /**
   * The one host object every module gets, at start-up or added later: registrations live in
   * the BML's table, not in the module, so a late module cannot miss one.
   */
  readonly host: BtlHost = Object.freeze({
    receive: (endpoint: BtlEndpoint, tag: number, data: Uint8Array) => {
      const via = this.#byBtlEndpoint.get(endpoint);
      if (!via && this.#early.has(endpoint.module)) {
        // A faster peer already sends over a module whose addProcs has not returned here yet.
        this.#early.get(endpoint.module)!.push({ endpoint, tag, data: Uint8Array.from(data) });
        return;
      }
      if (!via) {
        this.#log(`bml: fragment (tag ${tag}) from rank ${endpoint.rank} on an endpoint of ${endpoint.module.name} the BML does not know; dropped`);
        return;
      }
      if (tag === BML_MARKER_TAG) {
        this.#onMarker(via, data);
        return;
      }
      via.counters.fragmentsReceived += 1;
      via.counters.bytesReceived += data.length;
      const handler = this.#handlers.get(tag);
      if (!handler) this.#log(`bml: no handler for tag ${tag} (from rank ${endpoint.rank} via ${endpoint.module.name}); dropped`);
      else handler(this.endpoints[endpoint.rank]!, data, via);
      via.received();
    },
    writable: (endpoint: BtlEndpoint) => {
      const btl = this.#byBtlEndpoint.get(endpoint);
      if (!btl) return;
      btl.blocked = false;
      this.hooks.writable.call(btl);
    },
    error: (event: BtlErrorEvent) => {
      this.#log(`bml: ${event.module.name}${event.endpoint ? ` -> rank ${event.endpoint.rank}` : ''} reported a ${event.severity} error: ${event.error.message}`);
      this.hooks.error.call(event);
    },
    log: (message: string) => this.#log(message),
  });

  constructor(options: BmlOptions) {
    this.rank = options.rank;
    this.size = options.size;
    this.#log = options.log ?? (() => {});
    this.endpoints = Object.freeze(Array.from({ length: options.size }, (_, r) => new BmlEndpoint(r)));
  }

  /** Registers the receiver of a tag, for every module present and future. */
  register(tag: number, handler: FragmentHandler): void {
    if (this.#handlers.has(tag)) throw new Error(`bml: tag ${tag} already has a handler`);
    this.#handlers.set(tag, handler);
  }

  modules(): BtlModule[] {
    return [...this.#modules];
  }

  /**
   * Adds a module: asks it which peers it reaches (`addProcs`) and inserts it into those peers'
   * lists by policy. Works the same at start-up and while traffic flows.
   */
  async addModule(module: BtlModule, procs: readonly BtlProc[]): Promise<void> {
    if (this.#modules.has(module)) throw new Error(`bml: module ${module.name} is already added`);
    const endpoints = await this.#addProcs(module, procs);
    this.#modules.add(module);
    await this.#insert(module, procs, endpoints);
    this.hooks.moduleAdded.call(module);
  }

  /**
   * module.addProcs, holding what arrives over the module meanwhile: #insert delivers it once
   * the BML knows the endpoints.
   */
  async #addProcs(module: BtlModule, procs: readonly BtlProc[]): Promise<ReadonlyArray<BtlEndpoint | undefined>> {
    if (this.#early.has(module)) throw new Error(`bml: addProcs of ${module.name} is already running`);
    this.#early.set(module, []);
    try {
      return await module.addProcs(procs);
    } catch (err) {
      this.#early.delete(module);
      throw err;
    }
  }

  /**
   * Receives on the new links at once (a peer whose side is up may already send), and puts them
   * in the peers' lists once the module says they are connected.
   */
  async #insert(module: BtlModule, procs: readonly BtlProc[], endpoints: ReadonlyArray<BtlEndpoint | undefined>): Promise<void> {
    const early = this.#early.get(module) ?? [];
    this.#early.delete(module);
    if (endpoints.length !== procs.length) {
      throw new Error(`btl ${module.name}: addProcs returned ${endpoints.length} endpoints for ${procs.length} procs`);
    }
    const added: BmlBtl[] = [];
    endpoints.forEach((endpoint, i) => {
      if (!endpoint) return;
      const rank = procs[i]!.rank;
      if (endpoint.rank !== rank) throw new Error(`btl ${module.name}: endpoint for rank ${rank} says rank ${endpoint.rank}`);
      const btl = new BmlBtl(module, endpoint);
      this.#byBtlEndpoint.set(endpoint, btl);
      added.push(btl);
    });
    for (const f of early) this.host.receive(f.endpoint, f.tag, f.data);
    if (module.connected) {
      await Promise.all(added.map((b) => module.connected!(b.endpoint).catch((err: unknown) => this.#log(`bml: ${module.name} -> rank ${b.rank}: ${(err as Error).message}`))));
    }
    for (const b of added) this.endpoints[b.rank]!.btls.push(b);
    this.#recompute((e) => added.some((b) => b.rank === e.rank));
  }

  /**
   * Adds peers to a module already in the BML (a peer that re-loaded its transport publishes a
   * new card; our module connects to it again).
   */
  async addPeers(module: BtlModule, procs: readonly BtlProc[]): Promise<void> {
    if (!this.#modules.has(module)) throw new Error(`bml: module ${module.name} is not added`);
    const fresh = procs.filter((p) => !this.endpoints[p.rank]!.btls.some((b) => b.module === module));
    if (!fresh.length) return;
    const endpoints = await this.#addProcs(module, fresh);
    await this.#insert(module, fresh, endpoints);
  }

  /**
   * Takes a module out of the lists of the peers in `ranks` (all by default), drains those links
   * (see {@link drain}), and deletes its endpoints there (`delProcs`). Resolves true when the
   * module has no peer left and was taken out of the BML: the caller then finalizes it.
   */
  async removeModule(module: BtlModule, ranks?: ReadonlySet<number>, timeoutMs = 30_000): Promise<boolean> {
    if (!this.#modules.has(module)) return true;
    const mine = this.#btlsOf(module).filter((b) => !ranks || ranks.has(b.rank));
    for (const b of mine) b.retired = true;
    this.#recompute((e) => mine.some((b) => b.rank === e.rank));
    await this.drain(mine, timeoutMs);
    for (const e of this.endpoints) {
      const kept = e.btls.filter((b) => !mine.includes(b));
      e.btls.splice(0, e.btls.length, ...kept);
    }
    for (const b of mine) {
      this.#byBtlEndpoint.delete(b.endpoint);
      addCounters(this.#pastTraffic, b.module.component, b.counters);
    }
    await module.delProcs(mine.map((b) => b.endpoint));
    if (this.#btlsOf(module).length) return false;
    this.#modules.delete(module);
    this.hooks.moduleRemoved.call(module);
    return true;
  }

  /**
   * The coordinated drain of links that no longer carry new traffic (every rank does the same
   * for its side of the same links): each side waits until what it posted on a link completed,
   * tells the peer over that link how many fragments it sent there (a marker), and waits for the
   * peer's marker and every fragment it counted. Afterwards nothing is in flight on those links.
   */
  async drain(links: readonly BmlBtl[], timeoutMs = 30_000): Promise<void> {
    if (!links.length) return;
    await this.hooks.beforeDrain.promise(links);
    const waits = links.map(async (b) => {
      const epoch = ++b.drainEpoch;
      const marker = new Uint8Array(MARKER_SIZE);
      const v = new DataView(marker.buffer);
      v.setUint32(0, epoch, true);
      v.setFloat64(4, b.counters.fragmentsSent, true);
      // Straight to the module: a marker is not traffic, so it is not counted.
      b.module.send(b.endpoint, BML_MARKER_TAG, [marker]);
      await Promise.all([b.idle(), b.untilDrainedFromPeer(epoch)]);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = links.filter((b) => !b.drainedFromPeer(b.drainEpoch) || b.inFlight > 0);
        reject(new DrainTimeoutError(`drain timed out after ${timeoutMs} ms; still waiting on ${waiting.map((b) => b.traceLabel()).join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all(waits), timeout]);
    } finally {
      clearTimeout(timer);
    }
    await this.hooks.afterDrain.promise(links);
  }

  /**
   * Sets which components carry traffic to which peers (a policy, not modules: every module
   * stays loaded). Returns the links that lost their traffic: drain them before reporting done.
   */
  setPolicy(policy: TrafficPolicy): BmlBtl[] {
    this.#policy = policy;
    const left = this.#recompute(() => true);
    this.hooks.policyChanged.call(policy);
    return left;
  }

  /**
   * Overrides the exclusivity of a component's modules (`ctl apply --mca btl_tcp_exclusivity
   * 2000`; undefined: the modules' own again) and rebuilds every peer's lists. Returns the links
   * that lost their traffic: the caller drains them.
   */
  setExclusivity(component: string, exclusivity: number | undefined): BmlBtl[] {
    if (exclusivity === undefined) this.#exclusivity.delete(component);
    else this.#exclusivity.set(component, exclusivity);
    return this.#recompute(() => true);
  }

  /** The exclusivity the lists are built with: an override, else the module's own. */
  exclusivityOf(module: BtlModule): number {
    return this.#exclusivity.get(module.component) ?? module.exclusivity;
  }

  readonly #exclusivityOf = (b: BmlBtl) => this.exclusivityOf(b.module);

  /** Would every peer still have a send list under `policy`? The ranks that would not. */
  unreachableUnder(policy: TrafficPolicy): number[] {
    return this.endpoints
      .filter((e) => !e.btls.some((b) => !b.retired && policy(e.rank, b.module.component)))
      .map((e) => e.rank);
  }

  get policy(): TrafficPolicy {
    return this.#policy;
  }

  /** Fragments and bytes each component carried in this process, removed modules included. */
  trafficByComponent(): Map<string, TrafficCounters> {
    const out = new Map<string, TrafficCounters>();
    for (const [c, t] of this.#pastTraffic) addCounters(out, c, t);
    for (const e of this.endpoints) for (const b of e.btls) addCounters(out, b.module.component, b.counters);
    return out;
  }

  /** Ranks this rank cannot reach with the modules it has. */
  unreachable(): number[] {
    return this.endpoints.filter((e) => !e.reachable()).map((e) => e.rank);
  }

  #btlsOf(module: BtlModule): BmlBtl[] {
    return this.endpoints.flatMap((e) => e.btls.filter((b) => b.module === module));
  }

  #recompute(which: (e: BmlEndpoint) => boolean): BmlBtl[] {
    const left: BmlBtl[] = [];
    for (const e of this.endpoints) {
      if (!which(e)) continue;
      left.push(...e.recompute((component) => this.#policy(e.rank, component), this.#exclusivityOf));
      this.hooks.endpointChanged.call(e);
    }
    return left;
  }

  #onMarker(via: BmlBtl, data: Uint8Array): void {
    if (data.length !== MARKER_SIZE) {
      this.#log(`bml: malformed drain marker (${data.length} bytes) from rank ${via.rank} via ${via.module.name}; dropped`);
      return;
    }
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    via.peerMarkers.set(v.getUint32(0, true), v.getFloat64(4, true));
    via.received();
  }
}

function addCounters(into: Map<string, TrafficCounters>, component: string, t: TrafficCounters): void {
  const row = into.get(component) ?? { fragmentsSent: 0, bytesSent: 0, fragmentsReceived: 0, bytesReceived: 0 };
  row.fragmentsSent += t.fragmentsSent;
  row.bytesSent += t.bytesSent;
  row.fragmentsReceived += t.fragmentsReceived;
  row.bytesReceived += t.bytesReceived;
  into.set(component, row);
}
