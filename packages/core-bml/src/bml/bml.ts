import { SyncHook } from 'tapable';
import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlModule, BtlProc } from '../btl/types.js';
import { BmlBtl } from './bml-btl.js';
import { BmlEndpoint, type ComponentFilter } from './bml-endpoint.js';

/** Receives the fragments of one active-message tag. `data` is valid only during the call. */
export type FragmentHandler = (peer: BmlEndpoint, data: Uint8Array, via: BmlBtl) => void;

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
  });

  readonly rank: number;
  readonly size: number;
  /** One per rank, created once and never replaced. */
  readonly endpoints: readonly BmlEndpoint[];
  readonly #handlers = new Map<number, FragmentHandler>();
  readonly #byBtlEndpoint = new Map<BtlEndpoint, BmlBtl>();
  readonly #modules = new Set<BtlModule>();
  readonly #log: (message: string) => void;
  #allowed: ComponentFilter = () => true;

  /**
   * The one host object every module gets, at start-up or added later: registrations live in
   * the BML's table, not in the module, so a late module cannot miss one.
   */
  readonly host: BtlHost = Object.freeze({
    receive: (endpoint: BtlEndpoint, tag: number, data: Uint8Array) => {
      const via = this.#byBtlEndpoint.get(endpoint);
      const handler = this.#handlers.get(tag);
      if (!via) {
        this.#log(`bml: fragment (tag ${tag}) from rank ${endpoint.rank} on an endpoint of ${endpoint.module.name} the BML does not know; dropped`);
        return;
      }
      via.counters.fragmentsReceived += 1;
      via.counters.bytesReceived += data.length;
      if (!handler) {
        this.#log(`bml: no handler for tag ${tag} (from rank ${endpoint.rank} via ${endpoint.module.name}); dropped`);
        return;
      }
      handler(this.endpoints[endpoint.rank]!, data, via);
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
    const endpoints = await module.addProcs(procs);
    if (endpoints.length !== procs.length) {
      throw new Error(`btl ${module.name}: addProcs returned ${endpoints.length} endpoints for ${procs.length} procs`);
    }
    this.#modules.add(module);
    endpoints.forEach((endpoint, i) => {
      if (!endpoint) return;
      const rank = procs[i]!.rank;
      if (endpoint.rank !== rank) throw new Error(`btl ${module.name}: endpoint for rank ${rank} says rank ${endpoint.rank}`);
      const btl = new BmlBtl(module, endpoint);
      this.#byBtlEndpoint.set(endpoint, btl);
      this.endpoints[rank]!.btls.push(btl);
    });
    this.#recompute((e) => e.btls.some((b) => b.module === module));
    this.hooks.moduleAdded.call(module);
  }

  /**
   * Takes a module out of every peer's lists; what was posted on it still completes (wait with
   * `idle`). Its endpoints are then deleted (`delProcs`); the caller finalizes the module.
   */
  async removeModule(module: BtlModule): Promise<void> {
    if (!this.#modules.has(module)) return;
    const mine = this.#btlsOf(module);
    for (const b of mine) b.retired = true;
    this.#recompute((e) => e.btls.some((b) => b.module === module));
    await Promise.all(mine.map((b) => b.idle()));
    for (const e of this.endpoints) {
      const kept = e.btls.filter((b) => b.module !== module);
      e.btls.splice(0, e.btls.length, ...kept);
    }
    for (const b of mine) this.#byBtlEndpoint.delete(b.endpoint);
    this.#modules.delete(module);
    await module.delProcs(mine.map((b) => b.endpoint));
    this.hooks.moduleRemoved.call(module);
  }

  /** Restricts which components carry traffic (policy, not modules); recomputes every peer. */
  setAllowed(filter: ComponentFilter): void {
    this.#allowed = filter;
    this.#recompute(() => true);
  }

  /** Ranks this rank cannot reach with the modules it has. */
  unreachable(): number[] {
    return this.endpoints.filter((e) => !e.reachable()).map((e) => e.rank);
  }

  #btlsOf(module: BtlModule): BmlBtl[] {
    return this.endpoints.flatMap((e) => e.btls.filter((b) => b.module === module));
  }

  #recompute(which: (e: BmlEndpoint) => boolean): void {
    for (const e of this.endpoints) {
      if (!which(e)) continue;
      e.recompute(this.#allowed);
      this.hooks.endpointChanged.call(e);
    }
  }
}
