import { isSelected, TracePlugin, UnloadError, type Framework, type Mca } from '@switchyard/mca';
import { BTL_FRAMEWORK } from './btl/framework.js';
import type { BtlComponent, BtlInitContext, BtlModule, BtlProc } from '@switchyard/btl-interface';
import { Bml } from './bml/bml.js';
import type { BmlBtl } from './bml/bml-btl.js';
import { nodeKey } from './host.js';

/** How long a verb's check waits for failed links it tried to answer (a probe's own wait for its reply). */
const RETRY_WAIT_MS = 1_000;
const RETRY_POLL_MS = 20;

/** Who this process is in its job; the BTLs need it to address and authenticate. */
export interface Identity {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  readonly secret: string;
  /**
   * Which host this process is on, for "same host" decisions; default `nodeKey(hostname)`
   * (host name, kernel boot id and network namespace).
   */
  readonly node?: string;
}

/** One rank's modex entry: its host and, per BTL component, its modules' business cards. */
export interface ModexEntry {
  readonly hostname: string;
  /** Its node key: equal keys are one host. Absent from older ranks: the host name decides. */
  readonly node?: string;
  readonly btl: Readonly<Record<string, readonly unknown[]>>;
  /** Set when this rank failed its part of a hot load: every rank rolls back. */
  readonly error?: string;
  /** In a hot load: this rank's cards are of modules created just now (peers connect to them). */
  readonly fresh?: boolean;
}

/** The ranks a verb is limited to (`--ranks`); undefined: the whole job. */
export type Scope = ReadonlySet<number> | undefined;

/** The runtime's all-to-all exchange (modex): publish ours, get everyone's, by rank. */
export type Exchange = (data: ModexEntry, name: string) => Promise<readonly ModexEntry[]>;

/** Thrown when, after wire-up, some peer has no transport at all. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  readonly code = 'ERR_SWITCHYARD_UNREACHABLE';
}

/**
 * The transports of one rank: the btl framework's components, their modules, and the BML they
 * feed. `start` does Open MPI's btl select + modex + bml add_procs; later verbs load and unload
 * components through the same paths.
 */
export class Transports {
  readonly framework: Framework<BtlComponent, BtlModule, BtlInitContext>;
  readonly bml: Bml;
  /** Modules by component, in creation order. */
  readonly #modules = new Map<string, readonly BtlModule[]>();
  /** Collective loads of each component so far: the generation of the links the next one makes. */
  readonly #loads = new Map<string, number>();
  #modex: readonly ModexEntry[] = [];
  #node: string;
  #hostname: string;

  constructor(
    readonly mca: Mca,
    readonly identity: Identity,
    readonly exchange: Exchange,
  ) {
    this.framework = mca.framework(BTL_FRAMEWORK);
    this.#node = identity.node ?? nodeKey(identity.hostname);
    this.#hostname = identity.hostname;
    this.bml = new Bml({
      rank: identity.rank,
      size: identity.size,
      log: (m) => {
        if (this.framework.verbose > 0) mca.log(`[rank ${identity.rank}] ${m}`);
      },
    });
    // `writable` fires per fragment: not worth a line each.
    if (this.framework.verbose > 0) new TracePlugin(`bml rank ${identity.rank}`, (line) => mca.log(line), ['writable']).apply(this.bml);
  }

  /**
   * Loads every selected component, publishes the modules' business cards, reads everyone's,
   * and adds each module to the BML for the peers it reaches. Throws UnreachableError naming
   * the peers this rank cannot reach and the BTLs it tried.
   */
  async start(): Promise<void> {
    await this.framework.register();
    this.mca.checkParams();
    const loaded = await this.framework.loadSelected((component) => this.#initContext(component));
    for (const record of loaded) this.#modules.set(record.name, record.modules);
    this.#warnFailed(loaded);
    this.#modex = await this.exchange(this.#entry(), 'btl-modex');
    // Together: every module's endpoints receive before any of them waits for its links.
    await Promise.all(
      [...this.#modules].flatMap(([component, modules]) => modules.map((m) => this.bml.addModule(m, this.#procs(component)))),
    );
    const unreachable = this.bml.unreachable();
    if (unreachable.length) {
      const selection = this.mca.params.info('btl').text || '(all)';
      // As in Open MPI, a rank reaches itself only through self: `btl=tcp` alone leaves it out.
      const example = selection.startsWith('^') || selection === '(all)' ? '' : `, e.g. btl=${selection},self`;
      // Selected but refused by the ownership check (another user's installation): that is the cause to name.
      const refused = this.mca
        .discover()
        .refused.filter((c) => c.manifest.framework === BTL_FRAMEWORK.name && isSelected(this.framework.selection(), c.manifest.component));
      const selfRefused = refused.some((c) => c.manifest.component === 'self');
      const noSelf = unreachable.includes(this.identity.rank) && !this.#modules.has('self') && !selfRefused
        ? ` (a rank sends to itself through self: select it too${example})`
        : '';
      const reasons = refused.map((c) => `${c.manifest.component}: ${c.reason}`).join('; ');
      const why = refused.length ? ` Refused by the ownership check (mca_base_trust widens it): ${reasons}.` : '';
      throw new UnreachableError(
        `rank ${this.identity.rank} cannot reach rank(s) ${unreachable.join(', ')}: no BTL reaches them${noSelf}. ` +
          `BTLs attempted: ${[...this.#modules.keys()].join(', ') || '(none)'}.${why} ` +
          `Check the btl selection (btl=${selection}) with 'switchyard info'`,
      );
    }
  }

  /**
   * A component the selection let in that failed to import, open or init (not one that declined,
   * as openib without a device): the job goes on without it, which the user should hear of, as
   * Open MPI warns when vader cannot create its segment. Only the selection's `include` form
   * makes such a failure fatal.
   */
  #warnFailed(loaded: readonly unknown[]): void {
    const selection = this.framework.selection();
    for (const record of this.framework.records()) {
      if (record.status !== 'failed' || loaded.includes(record) || !isSelected(selection, record.name)) continue;
      // Logged by every rank (the warning hook logs on rank 0 only): the failure may be this rank's alone.
      this.mca.log(`switchyard: warning: rank ${this.identity.rank}: btl component '${record.name}' is left out: ${record.reason}`);
    }
  }

  /**
   * Removes every module from the BML (their links drained, each drain bounded by `drainTimeoutMs`)
   * and unloads every component. Finalize calls it after its barrier: every rank is here and the
   * application's messages have arrived, so a link that cannot drain (a broken, idle transport)
   * is reported and closed, not a reason to fail the job. What it reports is returned.
   */
  async stop(drainTimeoutMs?: number): Promise<string[]> {
    // All at once: each link waits only for its own peer's marker, so the order in which ranks
    // hold their modules (it differs after a partial reload) cannot make two ranks wait on
    // different links of each other.
    const removed = await Promise.allSettled(
      [...this.#modules.values()].flat().map((m) => this.bml.removeModule(m, undefined, drainTimeoutMs)),
    );
    const warnings = removed.flatMap((r) => (r.status === 'rejected' ? [`finalize: ${(r.reason as Error).message}`] : []));
    this.bml.stopFailover();
    this.#modules.clear();
    try {
      await this.framework.unloadAll();
    } catch (err) {
      warnings.push(`finalize: ${(err as Error).message}`);
    }
    for (const w of warnings) this.mca.log(`[rank ${this.identity.rank}] ${w}`);
    return warnings;
  }

  /**
   * This rank runs on another host now (`ctl migrate` moved it): what it publishes from now on
   * names that host, and which peers count as local is decided anew at the next load.
   */
  relocate(hostname: string, node = nodeKey(hostname)): void {
    this.#hostname = hostname;
    this.#node = node;
  }

  /** Which host this rank is on for "same host" decisions (see nodeKey). */
  get node(): string {
    return this.#node;
  }

  /** The host this rank runs on, as it publishes it. */
  get hostname(): string {
    return this.#hostname;
  }

  /**
   * `absent`, `loaded`, or `failed`: loaded, but a module of it failed for good (a device reset):
   * loading it again replaces it.
   */
  loadState(name: string): 'absent' | 'loaded' | 'failed' {
    const modules = this.#modules.get(name);
    if (!modules) return 'absent';
    return modules.some((m) => this.bml.moduleFailure(m)) ? 'failed' : 'loaded';
  }

  /** Is the link between this rank and `peer` touched by a verb limited to `scope`? */
  inScope(peer: number, scope: Scope): boolean {
    return !scope || scope.has(this.identity.rank) || scope.has(peer);
  }

  /**
   * Why this rank cannot do its part of loading `name` for `scope`, or undefined. A component
   * loaded and healthy here is refused (`already loaded`); a failed one may be loaded again.
   */
  async checkLoad(name: string, scope: Scope): Promise<string | undefined> {
    await this.framework.register();
    const record = this.framework.record(name);
    if (!record) return `no btl component '${name}' (known: ${this.framework.records().map((r) => r.name).join(', ') || 'none'})`;
    const mineInScope = !scope || scope.has(this.identity.rank);
    if (!mineInScope) return undefined;
    // One the start-up selection left out is imported only now, by the ranks that load it.
    await this.framework.importComponent(name);
    const state = this.loadState(name);
    if (state === 'loaded') return `rank ${this.identity.rank}: btl '${name}' is already loaded`;
    if (!record.loadable) return `btl '${name}' cannot be used on rank ${this.identity.rank}: ${record.reason}`;
    if (state === 'failed') return this.#notYetReloadable(name);
    // Asked now (its open() only looks), so a load that could not succeed is refused, changing nothing.
    const probe = await this.framework.query(name);
    if (!probe.available) return `btl '${name}' is not available on rank ${this.identity.rank}: ${probe.reason ?? 'its open() declined'}`;
    return undefined;
  }

  /**
   * Why a failed component cannot be loaded again here yet (the device still down), asked before
   * its failed module is finalized: a reload that would fail leaves it as it was, failed, and
   * its recovery (bml_recovery_interval) goes on trying.
   */
  async #notYetReloadable(name: string): Promise<string | undefined> {
    const probe = await this.framework.query(name);
    if (probe.available) return undefined;
    return (
      `btl '${name}' failed and cannot be loaded again yet: ${probe.reason ?? 'its open() declined'} ` +
      '(it is reloaded by itself once it can be)'
    );
  }

  /**
   * Hot load (add_btl): ranks in scope that do not hold a healthy `name` open and init it anew (a
   * failed one is finalized first: a reload); every rank publishes its cards for it (fresh or
   * existing) in one exchange, saying whether they are fresh; then each rank connects its modules
   * to the fresh peers (a fresh rank: to every peer with cards). If any rank failed, every rank
   * undoes its part. Every rank must call this together.
   */
  async load(name: string, scope: Scope, exchangeName: string, drainTimeoutMs?: number): Promise<string[]> {
    // Every rank counts every load, so the links one makes have the same generation on both sides.
    const generation = (this.#loads.get(name) ?? 0) + 1;
    this.#loads.set(name, generation);
    const rank = this.identity.rank;
    const state = this.loadState(name);
    const reloading = (!scope || scope.has(rank)) && state !== 'loaded';
    let fresh: readonly BtlModule[] = [];
    let error: string | undefined;
    const changes: string[] = [];
    if (reloading) {
      try {
        const notYet = state === 'failed' ? await this.#notYetReloadable(name) : undefined;
        if (notYet) error = `rank ${rank}: ${notYet}`;
        else {
          if (state === 'failed') changes.push(...(await this.#dropFailed(name, drainTimeoutMs)));
          fresh = await this.framework.load(name, this.#initContext(name));
        }
      } catch (err) {
        error = `rank ${rank}: loading btl '${name}' failed: ${(err as Error).message}`;
      }
    }
    // A module of ours that failed (its own reload comes later) connects to nobody new, and
    // publishes no card: a peer loading anew must not try to reach a dead module.
    const modules = reloading ? fresh : (this.#modules.get(name) ?? []).filter((m) => !this.bml.moduleFailure(m));
    // Every rank learns first which ranks load anew: a peer whose module died without a word
    // (its only link to us was the dead one) still has a link here that looks healthy.
    // A collective step that fails (its verb gave up on a rank that did not join) closes what this
    // rank opened for it: nothing was connected yet, so the component is as it was before.
    const closeFresh = async (err: unknown): Promise<never> => {
      if (fresh.length || (reloading && !error)) await this.framework.unload(name).catch(() => {});
      throw err;
    };
    const announced = await this.exchange(
      { hostname: this.#hostname, node: this.#node, btl: {}, ...(reloading && !error ? { fresh: true } : {}) },
      `${exchangeName}:fresh`,
    ).catch(closeFresh);
    const reloadingRanks = new Set(announced.flatMap((e, r) => (e.fresh ? [r] : [])));
    let cards: unknown[] = [];
    try {
      // Our links to the peers loading anew (and every failed one to a peer in scope; without one,
      // to every peer whose module failed) go first, so the cards below carry new per-peer
      // connection state for them.
      if (!reloading) {
        for (const m of modules) {
          this.#retireStale(m, reloadingRanks);
          await this.bml.forgetFailedLinks(m, new Set([...(scope ?? this.bml.peersWhoseModuleFailed(m)), ...reloadingRanks]));
        }
      }
      // A module staying loaded hands out fresh per-peer connection data for the peers reloading;
      // one that found its device dead meanwhile publishes none (its own reload comes later).
      cards = modules.map((m) => {
        const card = (reloading ? m.businessCard : m.refreshBusinessCard?.() ?? m.businessCard) ?? null;
        return this.bml.moduleFailure(m) ? null : card;
      });
    } catch (err) {
      // Said in the exchange below, not thrown before it: the other ranks would wait for us there.
      error ??= `rank ${rank}: preparing btl '${name}' for the ranks loading it anew failed: ${(err as Error).message}`;
    }
    const entry: ModexEntry = {
      hostname: this.#hostname,
      node: this.#node,
      btl: { [name]: cards },
      ...(reloading && !error ? { fresh: true } : {}),
      ...(error ? { error } : {}),
    };
    const entries = await this.exchange(entry, exchangeName).catch(closeFresh);
    const failed = entries.map((e) => e.error).filter((e): e is string => !!e);
    if (failed.length) {
      if (reloading && !error) await this.framework.unload(name);
      throw new Error(failed.join('; '));
    }
    this.#modex = entries.map((e, i) => merge(this.#modex[i], e, name));
    const freshRanks = new Set(entries.flatMap((e, r) => (e.fresh ? [r] : [])));
    const procs = this.#procs(name).filter((p) => reloading || freshRanks.has(p.rank));
    if (reloading) {
      try {
        for (const m of fresh) await this.bml.addModule(m, procs, generation);
      } catch (err) {
        // Added modules leave the BML again and the component is closed: this rank is as before.
        for (const m of fresh) await this.bml.removeModule(m, undefined, drainTimeoutMs).catch(() => {});
        await this.framework.unload(name).catch(() => {});
        throw new Error(`rank ${rank}: connecting btl '${name}' failed: ${(err as Error).message}`, { cause: err });
      }
      this.#modules.set(name, fresh);
      changes.push(`loaded ${name} (${fresh.map((m) => m.name).join(', ') || 'no modules'})`);
      changes.push(...this.#unconnected(fresh, procs));
      return changes;
    }
    for (const m of modules) {
      await this.bml.addPeers(m, procs, generation);
      const reached = procs.filter((p) => p.cards.length).map((p) => p.rank);
      if (reached.length) changes.push(`${m.name} connected to rank(s) ${reached.join(',')}`);
    }
    changes.push(...this.#unconnected(modules, procs));
    return changes;
  }

  /** What a load must not report as connected: new links of `modules` to `procs` that failed while connecting. */
  #unconnected(modules: readonly BtlModule[], procs: readonly BtlProc[]): string[] {
    const ranks = new Set(procs.map((p) => p.rank));
    return this.bml
      .failedLinks()
      .filter((b) => modules.includes(b.module) && ranks.has(b.rank))
      .map((b) => `${b.module.name} -> rank ${b.rank} failed while connecting: ${b.failure!.error.message}`);
  }

  /**
   * A peer that loaded the component anew has new modules: a link this module still holds to its
   * old one (its module died when that was its only link to us, or an unload here could not drain
   * while the peer's completed, then was undone) leads nowhere. It is failed as the peer's (the
   * PML sends again what it may have lost), and forgotten, so `addPeers` makes a new link.
   */
  #retireStale(module: BtlModule, freshRanks: ReadonlySet<number>): void {
    for (const rank of freshRanks) {
      for (const b of this.bml.endpoints[rank]!.btls) {
        if (b.module === module && !b.failure)
          this.bml.failLink(
            b,
            { error: new Error(`rank ${rank} loaded ${module.component} anew`), at: Date.now(), severity: 'peer' },
            false,
          );
      }
    }
  }

  /**
   * Takes a failed component out: its links leave the BML (a failed link owes no drain) and its
   * modules are finalized; what a broken module reports while closing is a note, not an error.
   */
  async #dropFailed(name: string, drainTimeoutMs?: number): Promise<string[]> {
    const notes: string[] = [];
    for (const m of this.#modules.get(name) ?? []) await this.bml.removeModule(m, undefined, drainTimeoutMs);
    this.#modules.delete(name);
    try {
      await this.framework.unload(name);
    } catch (err) {
      notes.push(`${name}: closing the failed module reported: ${(err as Error).message}`);
    }
    notes.push(`finalized failed ${name}`);
    return notes;
  }

  /**
   * Collective: the union, in one order, of the components any rank names (`ctl reset` loads on
   * every rank what some rank misses). Published as component keys with no cards.
   */
  async agreeOnLoads(names: readonly string[], exchangeName: string): Promise<string[]> {
    return [...(await this.agreeWhoLoads(names, exchangeName)).keys()];
  }

  /**
   * Collective: per component any rank names, in name order, the ranks that name it (`checkpoint
   * continue` loads back on each rank what that rank unloaded, which differs where an operator
   * had unloaded a transport on some ranks only).
   */
  async agreeWhoLoads(names: readonly string[], exchangeName: string): Promise<Map<string, Set<number>>> {
    const entries = await this.exchange(
      { hostname: this.#hostname, node: this.#node, btl: Object.fromEntries(names.map((n) => [n, []])) },
      exchangeName,
    );
    const who = new Map<string, Set<number>>();
    entries.forEach((e, rank) => {
      for (const name of Object.keys(e.btl)) who.set(name, (who.get(name) ?? new Set()).add(rank));
    });
    return new Map([...who].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Why this rank cannot do its part of unloading `name` for `scope`, or undefined. */
  checkUnload(name: string, scope: Scope): string | undefined {
    const rank = this.identity.rank;
    if (!this.#modules.has(name)) {
      if (!scope || scope.has(rank)) return `btl '${name}' is not loaded on rank ${rank} (loaded: ${[...this.#modules.keys()].join(', ')})`;
      return undefined;
    }
    const policy = this.bml.policy;
    // A peer whose traffic falls back (every transport a switch chose failed) keeps any working link.
    const kept = (peer: number, c: string) =>
      (c !== name || !this.inScope(peer, scope)) && (policy(peer, c) || this.bml.endpoints[peer]!.fallback);
    const lost = this.bml.unreachableUnder(kept);
    if (!lost.length) return undefined;
    const because = `unloading ${name} would leave rank ${rank} without a transport to rank(s) ${lost.join(',')}`;
    // Other transports would reach them, but the last switch allows none of those.
    const unswitched = this.bml.unreachableUnder((peer, c) => c !== name || !this.inScope(peer, scope));
    if (unswitched.length < lost.length) return `${because} that the last switch allows: switch to another transport first`;
    return `${because}${this.#downLinks(lost, (peer, c) => c !== name && policy(peer, c))}`;
  }

  /**
   * Why `peers` have no link `allowed`: `; its <btl> links to rank(s) R are down (error)` for
   * failed links, and for every other peer whether its allowed links are being unloaded or do
   * not exist; '' when no peer has an allowed link at all.
   */
  #downLinks(peers: readonly number[], allowed: (peer: number, component: string) => boolean): string {
    const links = this.bml.endpoints.filter((e) => peers.includes(e.rank)).flatMap((e) => e.btls);
    const down = links.filter((b) => b.failure && allowed(b.rank, b.module.component));
    if (!down.length && !links.some((b) => allowed(b.rank, b.module.component))) return '';
    const parts: string[] = [];
    const byModule = new Map<string, { ranks: number[]; error: string }>();
    for (const b of down) {
      const entry = byModule.get(b.module.name) ?? { ranks: [], error: b.failure!.error.message };
      entry.ranks.push(b.rank);
      byModule.set(b.module.name, entry);
    }
    const explained = new Set(down.map((b) => b.rank));
    if (byModule.size) {
      const each = [...byModule].map(([m, { ranks, error }]) => `its ${m} links to rank(s) ${ranks.join(',')} are down (${error})`);
      parts.push(`${each.join('; ')}, until they come back (probed every bml_recovery_interval)`);
    }
    const retired = links.filter((b) => !explained.has(b.rank) && b.retired && allowed(b.rank, b.module.component));
    for (const [m, ranks] of groupRanks(retired)) {
      const component = retired.find((b) => b.module.name === m)!.module.component;
      const why = `a load or unload of ${component} is in progress; try again once it is done`;
      parts.push(`its ${m} links to rank(s) ${ranks.join(',')} are being unloaded (${why})`);
      for (const r of ranks) explained.add(r);
    }
    const rest = peers.filter((p) => !explained.has(p));
    if (rest.length) parts.push(`no link it may use to rank(s) ${rest.join(',')} exists (those transports are not connected to them)`);
    return `; ${parts.join('; ')}`;
  }

  /**
   * Hot unload (del_btl): the links in scope leave every list, are drained with their peers
   * (within `drainTimeoutMs`; failed links owe nothing), and deleted; a module with no peer left
   * is finalized, and a component with no module left is closed. A module that failed is
   * finalized even when closing it reports errors. Every rank must call this together.
   */
  async unload(name: string, scope: Scope, drainTimeoutMs?: number): Promise<string[]> {
    const modules = this.#modules.get(name);
    if (!modules) return [];
    const rank = this.identity.rank;
    const peers = !scope || scope.has(rank) ? undefined : scope;
    const wasFailed = this.loadState(name) === 'failed';
    let whole = true;
    for (const m of modules) whole = (await this.bml.removeModule(m, peers, drainTimeoutMs)) && whole;
    if (!whole) return [`${name}: links to rank(s) ${[...peers!].join(',')} drained and removed`];
    this.#modules.delete(name);
    try {
      await this.framework.unload(name);
    } catch (err) {
      if (wasFailed) return [`unloaded failed ${name} (closing it reported: ${(err as Error).message})`];
      // Closed all the same: the unload happened, and what the component did wrong is told with it.
      if (err instanceof UnloadError) return [`unloaded ${name}, with errors: ${err.errors.map((e: Error) => e.message).join('; ')}`];
      throw err;
    }
    return [`unloaded ${name}`];
  }

  /**
   * Puts back in service the links of `name` an unload retired and could not drain, when no rank
   * completed that unload: then no rank forgot its side of them, so they can carry traffic again.
   */
  restoreRetired(name: string, scope: Scope): string[] {
    const links = this.bml.endpoints.flatMap((e) =>
      e.btls.filter((b) => b.module.component === name && b.retired && this.inScope(b.rank, scope)),
    );
    if (!links.length) return [];
    for (const b of links) b.retired = false;
    // The same policy again: every list is rebuilt with the links back in it.
    this.bml.setPolicy(this.bml.policy);
    return [`${name}: links to rank(s) ${[...new Set(links.map((b) => b.rank))].join(',')} back in service`];
  }

  /** Would `policy` leave this rank without a transport to some peer? The reason, or undefined. */
  checkPolicy(policy: (peer: number, component: string) => boolean): string | undefined {
    const lost = this.bml.unreachableUnder(policy);
    if (!lost.length) return undefined;
    return `rank ${this.identity.rank} would have no transport to rank(s) ${lost.join(',')}${this.#downLinks(lost, policy)}`;
  }

  /**
   * checkPolicy, once the failed links it could use were tried at once, as `ctl reset` tries
   * them: a connection reset a moment ago comes back within a round trip when its peer is
   * there, where its own probe would wait bml_recovery_interval. Waits `waitMs` at most.
   */
  async checkPolicySoon(policy: (peer: number, component: string) => boolean, waitMs = RETRY_WAIT_MS): Promise<string | undefined> {
    let reason = this.checkPolicy(policy);
    if (reason === undefined || !this.bml.failedLinks().some((b) => policy(b.rank, b.module.component))) return reason;
    let probedAt = Date.now();
    this.bml.probeFailedLinks();
    for (const deadline = Date.now() + waitMs; reason !== undefined && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, RETRY_POLL_MS));
      reason = this.checkPolicy(policy);
      // A link that came back and failed again meanwhile (a second reset) is tried again at once too.
      const again = this.bml.failedLinks().some((b) => b.failure!.at > probedAt && policy(b.rank, b.module.component));
      if (reason !== undefined && again) {
        probedAt = Date.now();
        this.bml.probeFailedLinks();
      }
    }
    return reason;
  }

  /** Sets the traffic policy and drains the links that lost their traffic. */
  async applyPolicy(policy: (peer: number, component: string) => boolean, drainTimeoutMs?: number): Promise<string[]> {
    return this.#drainLeft(this.bml.setPolicy(policy), drainTimeoutMs);
  }

  /** Gives `component`'s modules a new exclusivity and drains the links that lost their traffic. */
  async applyExclusivity(component: string, exclusivity: number, drainTimeoutMs?: number): Promise<string[]> {
    return this.#drainLeft(this.bml.setExclusivity(component, exclusivity), drainTimeoutMs);
  }

  async #drainLeft(left: BmlBtl[], drainTimeoutMs?: number): Promise<string[]> {
    await this.bml.drain(left, drainTimeoutMs);
    return left.length ? [`drained ${left.map((b) => b.traceLabel()).join(', ')}`] : [];
  }

  /** Is this loaded component checkpointable (its state survives a VM snapshot)? */
  checkpointable(name: string): boolean {
    return this.framework.record(name)?.component?.checkpointable ?? false;
  }

  /** Loaded components and their modules. */
  modules(): ReadonlyMap<string, readonly BtlModule[]> {
    return this.#modules;
  }

  #initContext(component: string): BtlInitContext {
    const { jobId, rank, size, secret } = this.identity;
    const hostname = this.#hostname;
    return {
      jobId,
      rank,
      size,
      hostname,
      secret,
      host: this.bml.host,
      params: this.framework.paramsOf(component),
      log: (message: string) => {
        if (this.framework.verbose > 0) this.mca.log(`[rank ${rank}] btl ${component}: ${message}`);
      },
    };
  }

  /** The ranks on this rank's node, in rank order (from the modex: PMIx's local peers). */
  nodeRanks(): number[] {
    return this.#procs('').flatMap((p) => (p.local ? [p.rank] : []));
  }

  #entry(): ModexEntry {
    const btl: Record<string, unknown[]> = {};
    for (const [component, modules] of this.#modules) btl[component] = modules.map((m) => m.businessCard ?? null);
    return { hostname: this.#hostname, node: this.#node, btl };
  }

  #procs(component: string): BtlProc[] {
    return this.#modex.map((entry, rank) => ({
      rank,
      hostname: entry.hostname,
      local: entry.node !== undefined ? entry.node === this.#node : entry.hostname === this.#hostname,
      cards: entry.btl[component] ?? [],
    }));
  }
}

/** A rank's modex entry with one component's cards replaced by a newer exchange's. */
function merge(old: ModexEntry | undefined, fresh: ModexEntry, component: string): ModexEntry {
  const node = fresh.node ?? old?.node;
  return {
    hostname: fresh.hostname || old?.hostname || '',
    ...(node !== undefined ? { node } : {}),
    btl: { ...(old?.btl ?? {}), [component]: fresh.btl[component] ?? [] },
  };
}

/** Module name to the ranks of `links` on it, in order. */
function groupRanks(links: readonly BmlBtl[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const b of links) {
    const ranks = out.get(b.module.name) ?? [];
    if (!ranks.includes(b.rank)) ranks.push(b.rank);
    out.set(b.module.name, ranks);
  }
  return out;
}
