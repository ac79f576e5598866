import { AsyncSeriesHook, SyncHook } from 'tapable';
import { BtlTag } from '@switchyard/btl-interface';
import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlModule, BtlProc } from '@switchyard/btl-interface';
import { BmlBtl, type DrainKind, type LinkFailure, type TrafficCounters } from './bml-btl.js';
import { BmlEndpoint } from './bml-endpoint.js';
import { MarkerType, NOTHING_OWED, readMarker, writeMarker } from './drain-marker.js';
import { LinkMessage, readLinkMessage, writeDown, writeProbe } from './link-message.js';

/** Receives the fragments of one active-message tag. `data` is valid only during the call. */
export type FragmentHandler = (peer: BmlEndpoint, data: Uint8Array, via: BmlBtl) => void;

/** Which components may carry traffic to which peer (Open MPI's exclusivity override, per peer). */
export type TrafficPolicy = (rank: number, component: string) => boolean;

export type FtState = 'checkpoint' | 'continue' | 'restart';

/** The BML's own tag: drain markers, sent on the link being drained. */
export const BML_MARKER_TAG = BtlTag.BML_BASE;
/** The BML's link management: DOWN notices and the probes that bring a failed link back. */
export const BML_LINK_TAG = BtlTag.BML_BASE + 1;
/** How long a probe waits for its reply before the link counts as still down. */
const PROBE_TIMEOUT_MS = 1_000;
/** Between probes of the links to a peer nothing else reaches: it waits for them. */
const UNREACHABLE_PROBE_MS = 200;

/** How the BML takes failed links out and brings them back (MCA parameters `bml_*`). */
export interface FailoverOptions {
  /** A failed link is probed this long after it failed (UCX's recovery interval); 0: only by hand. */
  readonly recoveryIntervalMs: number;
  /** A peer no working link reaches is lost when no failed link to it came back within this. */
  readonly peerTimeoutMs: number;
  /**
   * Whether a peer is busy in application code, or how long ago it last was, when the job knows
   * (the launcher's activity monitor): such a peer is alive, so it is waited for beyond the peer
   * timeout, and for one more timeout once it is free (to catch up and answer its links).
   */
  readonly peerActivity?: (rank: number) => Promise<PeerActivity | undefined>;
}

/** What the job knows of a peer's process (see FailoverOptions.peerActivity). */
export interface PeerActivity {
  readonly busyMs?: number;
  readonly freeForMs?: number;
  /** Its process is stopped (SIGSTOP, Ctrl-Z, a debugger), with how the launcher says so. */
  readonly stopped?: { readonly pid: number; readonly note: string };
}

/** Why a lost peer did not answer, where the job could tell: its process was stopped, not gone. */
export interface PeerStoppedCause {
  readonly code: 'ERR_SWITCHYARD_PEER_STOPPED';
  readonly pid: number;
  readonly message: string;
}

/** No transport reaches a peer any more: names it, and each transport tried with why it failed. */
export class PeerLostError extends Error {
  override readonly name = 'PeerLostError';
  readonly code = 'ERR_SWITCHYARD_PEER_UNREACHABLE';
  /** Set when the job could tell why the peer did not answer (its process is stopped); a code to act on, never the message. */
  declare readonly cause?: PeerStoppedCause;
  constructor(
    readonly peer: number,
    readonly tried: ReadonlyArray<{ readonly btl: string; readonly error: string }>,
    cause?: PeerStoppedCause,
  ) {
    const why = tried.length ? tried.map((t) => `${t.btl}: ${t.error}`).join('; ') : 'no transport reaches it';
    super(`rank ${peer} cannot be reached any more${cause ? `: ${cause.message}` : ''} (${why})`, cause ? { cause } : undefined);
  }
}

/** A drain that did not finish in time: names the links that still wait. */
export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
  readonly code = 'ERR_SWITCHYARD_DRAIN_TIMEOUT';
}

/**
 * What the BML tells the layers above it, each hook with its first-party consumer: the PML
 * (progress, failover), module recovery and the job's error handler; `btl_base_verbose` traces
 * them all. A hook is declared only when something uses it.
 */
export type BmlHooks = {
  /** A peer's lists changed: what waited for a link may go now (PML). */
  readonly endpointChanged: SyncHook<[BmlEndpoint]>;
  /** A link was taken out of service after a fault: what it may have lost is sent again (PML). */
  readonly linkFailed: SyncHook<[BmlBtl]>;
  /** A module reported a fatal error: it comes back only by loading its component anew (module recovery). */
  readonly moduleFailed: SyncHook<[BtlModule, LinkFailure]>;
  /** No link reaches this peer and none came back in time: what waits on it fails (PML, errors are fatal). */
  readonly peerLost: SyncHook<[PeerLostError]>;
  /** A module can take fragments again for this peer (PML). */
  readonly writable: SyncHook<[BmlBtl]>;
  /** Checkpoint / restart notifications (Open MPI's ft_event) the agent sends in `ctl checkpoint`. */
  readonly ftEvent: AsyncSeriesHook<[FtState]>;
};

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
  readonly hooks: BmlHooks = Object.freeze({
    endpointChanged: new SyncHook<[BmlEndpoint]>(['endpoint']),
    linkFailed: new SyncHook<[BmlBtl]>(['btl']),
    moduleFailed: new SyncHook<[BtlModule, LinkFailure]>(['module', 'failure']),
    peerLost: new SyncHook<[PeerLostError]>(['error']),
    writable: new SyncHook<[BmlBtl]>(['btl']),
    ftEvent: new AsyncSeriesHook<[FtState]>(['state']),
  });

  readonly rank: number;
  readonly size: number;
  /** One per rank, created once and never replaced. */
  readonly endpoints: readonly BmlEndpoint[];
  readonly #handlers = new Map<number, FragmentHandler>();
  readonly #byBtlEndpoint = new Map<BtlEndpoint, BmlBtl>();
  readonly #modules = new Set<BtlModule>();
  /** The modules that offer `progress`, in an array: a busy-polling wait calls them in a tight loop. */
  #polled: BtlModule[] = [];
  #polledEverywhere = false;
  /** Modules whose progress() threw: never polled again. */
  readonly #unpolled = new WeakSet<BtlModule>();
  /** Fragments that came over a module while its addProcs ran: delivered once it returns. */
  readonly #early = new Map<BtlModule, Array<{ endpoint: BtlEndpoint; tag: number; data: Uint8Array }>>();
  /** Traffic of links already removed, by component, so totals survive unload and reload. */
  readonly #pastTraffic = new Map<string, TrafficCounters>();
  readonly #log: (message: string) => void;
  #policy: TrafficPolicy = () => true;
  /** Exclusivity overrides by component, from a run-time change of `btl_<component>_exclusivity`. */
  readonly #exclusivity = new Map<string, number>();
  #failover: FailoverOptions = { recoveryIntervalMs: 5_000, peerTimeoutMs: 10_000 };
  /** Modules that reported a fatal error: they come back only by loading the component anew. */
  readonly #moduleFailures = new Map<BtlModule, LinkFailure>();
  /** Failed links with a probe scheduled or awaiting its reply. */
  readonly #probeTimers = new Map<BmlBtl, NodeJS.Timeout>();
  readonly #awaitingReply = new Set<BmlBtl>();
  /** Peers reachable only through failed links, and when they count as lost. */
  readonly #peerDeadlines = new Map<number, NodeJS.Timeout>();
  readonly #lost = new Set<number>();

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
        this.#log(
          `bml: fragment (tag ${tag}) from rank ${endpoint.rank} on an endpoint of ${endpoint.module.name} the BML does not know; dropped`,
        );
        return;
      }
      if (tag === BML_MARKER_TAG) {
        this.#onMarker(via, data);
        return;
      }
      if (tag === BML_LINK_TAG) {
        this.#onLinkMessage(via, data);
        return;
      }
      via.counters.fragmentsReceived += 1;
      via.drainReceived += 1;
      via.counters.bytesReceived += data.length;
      const handler = this.#handlers.get(tag);
      if (!handler) this.#log(`bml: no handler for tag ${tag} (from rank ${endpoint.rank} via ${endpoint.module.name}); dropped`);
      else handler(this.endpoints[endpoint.rank]!, data, via);
      via.received();
    },
    writable: (endpoint: BtlEndpoint) => {
      const btl = this.#byBtlEndpoint.get(endpoint);
      if (!btl || btl.failure) return;
      btl.blocked = false;
      this.hooks.writable.call(btl);
    },
    error: (event: BtlErrorEvent) => this.#onError(event),
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

  /**
   * Looks once at every module that can be polled synchronously and returns how many fragments
   * moved: Open MPI's opal_progress over the BTLs that register a progress function.
   */
  progress(): number {
    let moved = 0;
    const modules = this.#polled;
    for (let i = 0; i < modules.length; i++) {
      try {
        moved += modules[i]!.progress!();
      } catch (err) {
        this.#stopPolling(modules[i]!, err);
      }
    }
    return moved;
  }

  /**
   * A module whose progress() threw: a fault of its own must not surface as a throw from the
   * application's wait(). It is polled no more; what it receives still comes on its event-loop path.
   */
  #stopPolling(module: BtlModule, err: unknown): void {
    this.#unpolled.add(module);
    this.#refreshPolled();
    for (const e of this.endpoints) e.refreshPolled(this.#polls);
    this.#polledEverywhere = this.endpoints.every((e) => e.polled);
    this.#log(`bml: ${module.name}: progress() threw (${(err as Error)?.message ?? String(err)}); it is no longer polled from wait()`);
  }

  readonly #polls = (module: BtlModule): boolean => module.progress !== undefined && !this.#unpolled.has(module);

  #refreshPolled(): void {
    this.#polled = [...this.#modules].filter(this.#polls);
  }

  /** Every peer, this rank included, is reached only through modules that can be polled synchronously. */
  get polledEverywhere(): boolean {
    return this.#polledEverywhere;
  }

  modules(): BtlModule[] {
    return [...this.#modules];
  }

  /**
   * Adds a module: asks it which peers it reaches (`addProcs`) and inserts it into those peers'
   * lists by policy. Works the same at start-up and while traffic flows. `generation` counts the
   * collective loads of the module's component (0 at start-up): both sides of a link share it.
   */
  async addModule(module: BtlModule, procs: readonly BtlProc[], generation = 0): Promise<void> {
    if (this.#modules.has(module)) throw new Error(`bml: module ${module.name} is already added`);
    const endpoints = await this.#addProcs(module, procs);
    this.#modules.add(module);
    this.#refreshPolled();
    await this.#insert(module, procs, endpoints, generation);
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
  async #insert(
    module: BtlModule,
    procs: readonly BtlProc[],
    endpoints: ReadonlyArray<BtlEndpoint | undefined>,
    generation: number,
  ): Promise<void> {
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
      const btl = new BmlBtl(module, endpoint, generation);
      this.#byBtlEndpoint.set(endpoint, btl);
      added.push(btl);
    });
    for (const f of early) this.host.receive(f.endpoint, f.tag, f.data);
    if (module.connected) {
      await Promise.all(
        added.map((b) =>
          module.connected!(b.endpoint).catch((err: unknown) =>
            this.#log(`bml: ${module.name} -> rank ${b.rank}: ${(err as Error).message}`),
          ),
        ),
      );
    }
    for (const b of added) this.endpoints[b.rank]!.btls.push(b);
    this.#recompute((e) => added.some((b) => b.rank === e.rank));
  }

  /**
   * Adds peers to a module already in the BML (a peer that re-loaded its transport publishes a
   * new card; our module connects to it again), in the `generation` of that load.
   */
  async addPeers(module: BtlModule, procs: readonly BtlProc[], generation: number): Promise<void> {
    if (!this.#modules.has(module)) throw new Error(`bml: module ${module.name} is not added`);
    // A link that failed (its peer's module died and was loaded anew) is replaced by a new one.
    const failed = procs.flatMap((p) => this.endpoints[p.rank]!.btls.filter((b) => b.module === module && b.failure));
    if (failed.length) await this.#forgetLinks(failed);
    const fresh = procs.filter((p) => !this.endpoints[p.rank]!.btls.some((b) => b.module === module));
    if (!fresh.length) return;
    const endpoints = await this.#addProcs(module, fresh);
    await this.#insert(module, fresh, endpoints, generation);
  }

  /**
   * Takes a module out of the lists of the peers in `ranks` (all by default), drains those links
   * (see {@link drain}), and deletes its endpoints there (`delProcs`). Resolves true when it was
   * asked for every peer and was taken out of the BML: the caller then finalizes it.
   */
  async removeModule(module: BtlModule, ranks?: ReadonlySet<number>, timeoutMs = 30_000): Promise<boolean> {
    if (!this.#modules.has(module)) return true;
    const mine = this.#btlsOf(module).filter((b) => !ranks || ranks.has(b.rank));
    for (const b of mine) b.retired = true;
    this.#recompute((e) => mine.some((b) => b.rank === e.rank));
    await this.drain(mine, timeoutMs, 'removal');
    await this.#forgetLinks(mine);
    // Links to some peers only: the module stays, even with none left (a 2-rank job's other rank
    // while one rank is unloaded or moved), so a later load by those peers connects to it again.
    if (ranks || this.#btlsOf(module).length) return false;
    this.#modules.delete(module);
    this.#refreshPolled();
    this.#moduleFailures.delete(module);
    return true;
  }

  /**
   * Deletes a module's failed links to these peers (all by default), so a peer that loads its
   * transport anew gets new ones: a module whose card carries per-peer state (openib's queue
   * pairs) only makes that state for peers it holds no endpoint for.
   */
  async forgetFailedLinks(module: BtlModule, ranks?: ReadonlySet<number>): Promise<void> {
    const failed = this.#btlsOf(module).filter((b) => b.failure && (!ranks || ranks.has(b.rank)));
    if (failed.length) await this.#forgetLinks(failed);
  }

  /** The peers whose side of a link of `module` is gone: their module failed for good, so they load it anew. */
  peersWhoseModuleFailed(module: BtlModule): Set<number> {
    return new Set(this.#btlsOf(module).filter((b) => b.failure?.severity === 'peer').map((b) => b.rank));
  }

  /** Takes links out of the BML for good and deletes their endpoints in their module. */
  async #forgetLinks(links: readonly BmlBtl[]): Promise<void> {
    for (const e of this.endpoints) {
      const kept = e.btls.filter((b) => !links.includes(b));
      if (kept.length !== e.btls.length) e.btls.splice(0, e.btls.length, ...kept);
    }
    const byModule = new Map<BtlModule, BmlBtl[]>();
    for (const b of links) {
      this.#stopProbing(b);
      this.#byBtlEndpoint.delete(b.endpoint);
      addCounters(this.#pastTraffic, b.module.component, b.counters);
      byModule.set(b.module, [...(byModule.get(b.module) ?? []), b]);
    }
    for (const [module, mine] of byModule) await module.delProcs(mine.map((b) => b.endpoint));
  }

  /**
   * The drain of links that no longer carry this rank's traffic: each waits until what this rank
   * posted on it completed, and until every fragment the peer sent on it has arrived, which the
   * peer says with a marker on the link itself (see drain-marker.ts). A `policy` drain asks the
   * peer to answer once its side is out of use too; a `removal` drain (the link is being
   * removed on both sides) waits for the peer's own removal marker. Afterwards nothing is in
   * flight on those links.
   */
  async drain(links: readonly BmlBtl[], timeoutMs = 30_000, kind: DrainKind = 'policy'): Promise<void> {
    if (!links.length) return;
    const waits = links.map(async (b) => {
      const number = kind === 'removal' ? ++b.removalEpoch : ++b.drainRequests;
      this.#answerDrainRequest(b);
      // A failed link owes nothing: what it lost, the PML sends again over the others.
      if (b.failure) {
        // Its peer's side may be in service (it saw no fault, or a probe brought it back first): that
        // side waits for our removal marker, and a peer that then closes in order ends no wait.
        if (kind === 'removal' && b.failure.severity === 'endpoint' && !this.#moduleFailures.has(b.module))
          b.module.send(b.endpoint, BML_MARKER_TAG, [writeMarker(MarkerType.REMOVAL, number, NOTHING_OWED)]);
        return;
      }
      const marker = kind === 'removal' ? writeMarker(MarkerType.REMOVAL, number, b.drainSent) : writeMarker(MarkerType.REQUEST, number);
      // Straight to the module: a marker is not traffic, so it is not counted.
      b.module.send(b.endpoint, BML_MARKER_TAG, [marker]);
      await Promise.all([b.idle(), b.untilDrainedBy(kind)]);
      if (kind === 'removal') b.peerRemovals.delete(number);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = links.filter((b) => !b.drainedBy(kind) || b.inFlight !== 0);
        const label = (b: BmlBtl) => `${b.traceLabel()} (${b.drainWait(kind)})`;
        reject(new DrainTimeoutError(`drain timed out after ${timeoutMs} ms; still waiting on ${waiting.map(label).join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all(waits), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sets which components carry traffic to which peers (a policy, not modules: every module
   * stays loaded). Returns the links that lost their traffic: drain them before reporting done.
   */
  setPolicy(policy: TrafficPolicy): BmlBtl[] {
    this.#policy = policy;
    const left = this.#recompute(() => true);
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

  /**
   * Would every peer still have a send list under `policy`? The ranks that would not. A peer the
   * change leaves as it is (every link of it allowed or not as now) keeps what it has, a fallback
   * after its chosen transports failed included: a change about other peers is not refused for it.
   */
  unreachableUnder(policy: TrafficPolicy): number[] {
    return this.endpoints
      .filter((e) => e.btls.some((b) => policy(e.rank, b.module.component) !== this.#policy(e.rank, b.module.component)))
      .filter((e) => !e.btls.some((b) => !b.retired && !b.failure && policy(e.rank, b.module.component)))
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
      left.push(...e.recompute((component) => this.#policy(e.rank, component), this.#exclusivityOf, this.#polls));
      // A link out of use here with a request waiting is answered now, drained or not: a fault
      // may have taken it out, and the peer's drain must not wait for one that never comes.
      for (const b of e.btls) if (!b.inUse && b.peerRequest !== undefined) this.#answerDrainRequest(b);
      this.hooks.endpointChanged.call(e);
    }
    this.#polledEverywhere = this.endpoints.every((e) => e.polled);
    return left;
  }

  /** Sets how failed links are probed and when an unreachable peer counts as lost. */
  configureFailover(options: FailoverOptions): void {
    this.#failover = options;
  }

  /** The fatal failure of a module, if it reported one. */
  moduleFailure(module: BtlModule): LinkFailure | undefined {
    return this.#moduleFailures.get(module);
  }

  /** Links out of service after a fault, with why and since when. */
  failedLinks(): BmlBtl[] {
    return this.endpoints.flatMap((e) => e.btls.filter((b) => b.failure));
  }

  /**
   * Takes a link out of service (a module reported it, or a send on it failed): out of the
   * peer's lists at once, the peer told over another link, `linkFailed` called so the PML sends
   * again what the link may have lost, and a probe scheduled to bring it back.
   */
  failLink(b: BmlBtl, failure: LinkFailure, tellPeer = true): void {
    if (!b.fail(failure)) return;
    this.#log(`bml: ${b.traceLabel()} is out of service (${failure.severity}): ${failure.error.message}`);
    const e = this.endpoints[b.rank]!;
    this.#recompute((x) => x === e);
    this.hooks.linkFailed.call(b);
    if (tellPeer && failure.severity !== 'peer') this.#tellPeer(b, failure.severity === 'fatal');
    if (failure.severity !== 'fatal' && !this.#moduleFailures.has(b.module)) {
      // A peer nothing else reaches waits for this link: try it now. Otherwise after the interval.
      if (!e.reachable()) this.#scheduleProbe(b, 0);
      else if (this.#failover.recoveryIntervalMs > 0) this.#scheduleProbe(b, this.#failover.recoveryIntervalMs);
    }
    this.#checkPeer(b.rank);
  }

  /**
   * Tries failed links again now (`ctl reset` / `ctl load` by hand): each answers a probe or
   * stays out.
   */
  probeFailedLinks(): void {
    for (const b of this.failedLinks()) {
      if (b.failure!.severity !== 'fatal' && !this.#moduleFailures.has(b.module)) this.#scheduleProbe(b, 0, true);
    }
  }

  #onError(event: BtlErrorEvent): void {
    this.#log(
      `bml: ${event.module.name}${event.endpoint ? ` -> rank ${event.endpoint.rank}` : ''} reported a ${event.severity} error: ` +
        `${event.error.message}`,
    );
    const failure: LinkFailure = { error: event.error, at: Date.now(), severity: event.severity };
    if (event.severity === 'fatal') {
      if (!this.#modules.has(event.module) && !this.#early.has(event.module)) return;
      if (this.#moduleFailures.has(event.module)) return;
      this.#moduleFailures.set(event.module, failure);
      for (const b of [...this.#byBtlEndpoint.values()]) {
        if (b.module !== event.module) continue;
        if (!b.failure) {
          this.failLink(b, failure);
          continue;
        }
        // Failed on its own first (a queue pair in error): now the module is gone, no probe helps.
        this.#stopProbing(b);
        b.failure = failure;
        this.#tellPeer(b, true);
        this.#checkPeer(b.rank);
      }
      this.hooks.moduleFailed.call(event.module, failure);
      return;
    }
    const b = event.endpoint && this.#byBtlEndpoint.get(event.endpoint);
    if (b) this.failLink(b, failure);
  }

  /** Tells the peer over another link that this one is dead, so its side stops using it too. */
  #tellPeer(b: BmlBtl, fatal: boolean): void {
    if (b.rank === this.rank) return;
    const e = this.endpoints[b.rank]!;
    const other = e.send.find((x) => x !== b) ?? e.btls.find((x) => x !== b && !x.failure && !x.retired);
    if (!other) return;
    other.module.send(other.endpoint, BML_LINK_TAG, [writeDown(b.module.component, fatal, b.generation)]);
  }

  #scheduleProbe(b: BmlBtl, delayMs: number, replace = false): void {
    if (this.#probeTimers.has(b)) {
      if (!replace) return;
      this.#stopProbing(b);
    }
    const timer = setTimeout(() => this.#probe(b), Math.max(0, delayMs));
    timer.unref();
    this.#probeTimers.set(b, timer);
  }

  #stopProbing(b: BmlBtl): void {
    clearTimeout(this.#probeTimers.get(b));
    this.#probeTimers.delete(b);
    this.#awaitingReply.delete(b);
  }

  /** Sends a probe on a failed link; its reply brings the link back, silence schedules another. */
  #probe(b: BmlBtl): void {
    this.#probeTimers.delete(b);
    if (!b.failure || b.retired || !this.#byBtlEndpoint.has(b.endpoint) || this.#moduleFailures.has(b.module)) return;
    if (this.#lost.has(b.rank)) return;
    this.#awaitingReply.add(b);
    const timer = setTimeout(() => this.#probeUnanswered(b), PROBE_TIMEOUT_MS);
    timer.unref();
    this.#probeTimers.set(b, timer);
    b.module.send(b.endpoint, BML_LINK_TAG, [writeProbe(LinkMessage.PROBE, b.drainSent)], (error) => {
      // Could not even be sent (the peer refused the connection): no point waiting for a reply.
      if (error && this.#awaitingReply.has(b) && this.#probeTimers.get(b) === timer) this.#probeUnanswered(b);
    });
  }

  /** A probe got no reply: try again later, soon if the peer has nothing else. */
  #probeUnanswered(b: BmlBtl): void {
    this.#stopProbing(b);
    if (!b.failure) return;
    const reachable = this.endpoints[b.rank]!.reachable();
    if (!reachable) this.#scheduleProbe(b, UNREACHABLE_PROBE_MS);
    else if (this.#failover.recoveryIntervalMs > 0) this.#scheduleProbe(b, this.#failover.recoveryIntervalMs);
  }

  #onLinkMessage(via: BmlBtl, data: Uint8Array): void {
    const m = readLinkMessage(data);
    if (!m) {
      this.#log(`bml: malformed link message (${data.length} bytes) from rank ${via.rank} via ${via.module.name}; dropped`);
      return;
    }
    switch (m.type) {
      case LinkMessage.DOWN: {
        const error = new Error(`rank ${via.rank} reported that its ${m.component} link to this rank failed`);
        const failure: LinkFailure = { error, at: Date.now(), severity: m.fatal ? 'peer' : 'endpoint' };
        for (const b of this.endpoints[via.rank]!.btls) {
          // A DOWN made before the latest load of the component (it waited behind traffic) is not about this link.
          if (b.module.component !== m.component || b.generation !== m.generation) continue;
          if (!b.failure) this.failLink(b, failure, false);
          else if (m.fatal && b.failure.severity === 'endpoint') {
            // It failed here first on its own; now its peer's module is gone: no probe can help.
            this.#stopProbing(b);
            b.failure = failure;
            this.#checkPeer(b.rank);
          }
        }
        return;
      }
      case LinkMessage.PROBE:
        // The peer's side works one way at least: answer, and count from its probe on.
        via.module.send(via.endpoint, BML_LINK_TAG, [writeProbe(LinkMessage.PROBE_REPLY, via.drainSent)]);
        this.#recover(via, m.sent);
        return;
      case LinkMessage.PROBE_REPLY:
        if (this.#awaitingReply.has(via) || via.failure) this.#recover(via, m.sent);
        return;
    }
  }

  #recover(b: BmlBtl, peerSent: number): void {
    // Either way the drain counts restart from the peer's count at the probe.
    if (!b.failure || this.#moduleFailures.has(b.module) || b.retired) {
      b.drainReceived = peerSent;
      return;
    }
    b.recover(peerSent);
    this.#stopProbing(b);
    this.#log(`bml: ${b.traceLabel()} is back in service`);
    const e = this.endpoints[b.rank]!;
    this.#recompute((x) => x === e);
    if (e.reachable()) {
      clearTimeout(this.#peerDeadlines.get(b.rank));
      this.#peerDeadlines.delete(b.rank);
    }
  }

  /**
   * A peer only failed links reach waits for a way back until the peer timeout: a failed link
   * answering its probes (sent often), or a failed module loaded anew (by module recovery, here or
   * at the peer, or by an operator's `ctl load`), as after a device reset.
   */
  #checkPeer(rank: number): void {
    const e = this.endpoints[rank]!;
    if (e.reachable() || this.#lost.has(rank) || rank === this.rank) return;
    if (!e.btls.some((b) => b.failure && !b.retired)) return; // no fault: a verb is re-wiring the only transport
    this.#armPeerDeadline(rank);
  }

  /**
   * After the peer timeout, a peer still unreachable is lost, unless the job knows it is busy in
   * application code (alive, just not answering its links): then it gets another timeout.
   */
  #armPeerDeadline(rank: number): void {
    if (this.#peerDeadlines.has(rank)) return;
    const timer = setTimeout(() => void this.#peerDeadlineDue(rank, timer), this.#failover.peerTimeoutMs);
    timer.unref();
    this.#peerDeadlines.set(rank, timer);
  }

  async #peerDeadlineDue(rank: number, timer: NodeJS.Timeout): Promise<void> {
    const activity = this.endpoints[rank]!.reachable() ? undefined : await this.#failover.peerActivity?.(rank).catch(() => undefined);
    // Finalized, or the peer came back meanwhile (which cleared the deadline).
    if (this.#peerDeadlines.get(rank) !== timer) return;
    this.#peerDeadlines.delete(rank);
    if (this.endpoints[rank]!.reachable() || this.#lost.has(rank)) return;
    const { busyMs, freeForMs } = activity ?? {};
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    if (busyMs !== undefined) {
      this.#log(`bml: no link reaches rank ${rank}, but it is busy in application code (for ${seconds(busyMs)} s): waiting for it`);
    } else if (freeForMs !== undefined && freeForMs < this.#failover.peerTimeoutMs) {
      // Free again only lately: it is still catching up on what arrived meanwhile before it answers its links.
      this.#log(`bml: no link reaches rank ${rank}, but it was busy in application code ${seconds(freeForMs)} s ago: waiting for it`);
    } else {
      return this.#losePeer(rank, activity?.stopped);
    }
    this.#armPeerDeadline(rank);
  }

  #losePeer(rank: number, stopped?: PeerActivity['stopped']): void {
    if (this.#lost.has(rank)) return;
    this.#lost.add(rank);
    const tried = this.endpoints[rank]!.btls.filter((b) => b.failure).map((b) => ({ btl: b.module.name, error: b.failure!.error.message }));
    for (const b of this.endpoints[rank]!.btls) this.#stopProbing(b);
    const cause = stopped && { code: 'ERR_SWITCHYARD_PEER_STOPPED' as const, pid: stopped.pid, message: stopped.note };
    const error = new PeerLostError(rank, tried, cause);
    this.#log(`bml: ${error.message}`);
    this.hooks.peerLost.call(error);
  }

  /** Stops every probe and deadline timer (finalize). */
  stopFailover(): void {
    for (const b of [...this.#probeTimers.keys()]) this.#stopProbing(b);
    for (const t of this.#peerDeadlines.values()) clearTimeout(t);
    this.#peerDeadlines.clear();
  }

  #onMarker(via: BmlBtl, data: Uint8Array): void {
    const marker = readMarker(data);
    if (!marker) {
      this.#log(`bml: malformed drain marker (${data.length} bytes) from rank ${via.rank} via ${via.module.name}; dropped`);
      return;
    }
    if (marker.type === MarkerType.REMOVAL) {
      via.peerRemovals.set(marker.number, marker.sent);
      via.received();
      return;
    }
    if (marker.type === MarkerType.QUIET) {
      via.peerQuiet = { request: marker.number, sent: marker.sent };
      via.received();
      return;
    }
    via.peerRequest = marker.number;
    // Our side still carries traffic: answered once it stops (its own drain, or a recompute).
    if (!via.inUse) this.#answerDrainRequest(via);
  }

  /**
   * Answers the peer's drain request on `b`, if one waits: everything this side sent there comes
   * before the answer; over a failed link, nothing (what the fault lost is the PML's to send again).
   */
  #answerDrainRequest(b: BmlBtl): void {
    const request = b.peerRequest;
    if (request === undefined) return;
    b.peerRequest = undefined;
    b.module.send(b.endpoint, BML_MARKER_TAG, [writeMarker(MarkerType.QUIET, request, b.failure ? NOTHING_OWED : b.drainSent)]);
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
