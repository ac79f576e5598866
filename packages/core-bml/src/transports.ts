import { traceHooks, type Framework, type Mca } from '@switchyard/mca';
import { BTL_FRAMEWORK } from './btl/framework.js';
import type { BtlComponent, BtlInitContext, BtlModule, BtlProc } from './btl/types.js';
import { Bml } from './bml/bml.js';
import type { BmlBtl } from './bml/bml-btl.js';
import { nodeKey } from './host.js';

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
  #modex: readonly ModexEntry[] = [];
  readonly #node: string;

  constructor(
    readonly mca: Mca,
    readonly identity: Identity,
    readonly exchange: Exchange,
  ) {
    this.framework = mca.framework(BTL_FRAMEWORK);
    this.#node = identity.node ?? nodeKey(identity.hostname);
    this.bml = new Bml({
      rank: identity.rank,
      size: identity.size,
      log: (m) => {
        if (this.framework.verbose > 0) mca.log(`[rank ${identity.rank}] ${m}`);
      },
    });
    // Drains, policy changes, modules added and removed, ft_event: one interceptor, not code in each.
    if (this.framework.verbose > 0) {
      const { writable: _perFragment, ...hooks } = this.bml.hooks;
      traceHooks(hooks, `bml rank ${identity.rank}`, (line) => mca.log(line));
    }
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
    this.#modex = await this.exchange(this.#entry(), 'btl-modex');
    // Together: every module's endpoints receive before any of them waits for its links.
    await Promise.all([...this.#modules].flatMap(([component, modules]) => modules.map((m) => this.bml.addModule(m, this.#procs(component)))));
    const unreachable = this.bml.unreachable();
    if (unreachable.length) {
      throw new UnreachableError(
        `rank ${this.identity.rank} cannot reach rank(s) ${unreachable.join(', ')}: no BTL reaches them. ` +
          `BTLs attempted: ${[...this.#modules.keys()].join(', ') || '(none)'}. ` +
          `Check the btl selection (btl=${this.mca.params.info('btl').text || '(all)'}) with 'switchyard info'`,
      );
    }
  }

  /** Removes every module from the BML (their links drained) and unloads every component. */
  async stop(): Promise<void> {
    // All at once: each link waits only for its own peer's marker, so the order in which ranks
    // hold their modules (it differs after a partial reload) cannot make two ranks wait on
    // different links of each other.
    await Promise.all([...this.#modules.values()].flat().map((m) => this.bml.removeModule(m)));
    this.bml.stopFailover();
    this.#modules.clear();
    await this.framework.unloadAll();
  }

  /** Is the link between this rank and `peer` touched by a verb limited to `scope`? */
  inScope(peer: number, scope: Scope): boolean {
    return !scope || scope.has(this.identity.rank) || scope.has(peer);
  }

  /** Why this rank cannot do its part of loading `name` for `scope`, or undefined. */
  async checkLoad(name: string, scope: Scope): Promise<string | undefined> {
    await this.framework.register();
    const record = this.framework.record(name);
    if (!record) return `no btl component '${name}' (known: ${this.framework.records().map((r) => r.name).join(', ') || 'none'})`;
    const mineInScope = !scope || scope.has(this.identity.rank);
    if (!mineInScope) return undefined;
    if (this.#modules.has(name)) return `btl '${name}' is already loaded on rank ${this.identity.rank}`;
    if (!record.loadable) return `btl '${name}' cannot be used on rank ${this.identity.rank}: ${record.reason}`;
    return undefined;
  }

  /**
   * Hot load (add_btl): ranks in scope open and init the component anew; every rank publishes
   * its cards for it (fresh or existing) in one exchange; then modules connect to the peers in
   * scope. If any rank failed, every rank undoes its part. Every rank must call this together.
   */
  async load(name: string, scope: Scope, exchangeName: string): Promise<string[]> {
    const rank = this.identity.rank;
    const mineInScope = !scope || scope.has(rank);
    let fresh: readonly BtlModule[] = [];
    let error: string | undefined;
    if (mineInScope) {
      try {
        fresh = await this.framework.load(name, this.#initContext(name));
      } catch (err) {
        error = `rank ${rank}: loading btl '${name}' failed: ${(err as Error).message}`;
      }
    }
    const modules = mineInScope ? fresh : this.#modules.get(name) ?? [];
    // A module staying loaded hands out fresh per-peer connection data for the peers reloading.
    const cards = modules.map((m) => (mineInScope ? m.businessCard : m.refreshBusinessCard?.() ?? m.businessCard) ?? null);
    const entry: ModexEntry = {
      hostname: this.identity.hostname,
      node: this.#node,
      btl: { [name]: cards },
      ...(error ? { error } : {}),
    };
    const entries = await this.exchange(entry, exchangeName);
    const failed = entries.map((e) => e.error).filter((e): e is string => !!e);
    if (failed.length) {
      if (mineInScope && !error) await this.framework.unload(name);
      throw new Error(failed.join('; '));
    }
    this.#modex = entries.map((e, i) => merge(this.#modex[i], e, name));
    const procs = this.#procs(name).filter((p) => this.inScope(p.rank, scope));
    if (mineInScope) {
      this.#modules.set(name, fresh);
      for (const m of fresh) await this.bml.addModule(m, procs);
      return [`loaded ${name} (${fresh.map((m) => m.name).join(', ') || 'no modules'})`];
    }
    const changes: string[] = [];
    for (const m of modules) {
      await this.bml.addPeers(m, procs);
      changes.push(`${m.name} connected to rank(s) ${procs.filter((p) => p.cards.length).map((p) => p.rank).join(',')}`);
    }
    return changes;
  }

  /** Why this rank cannot do its part of unloading `name` for `scope`, or undefined. */
  checkUnload(name: string, scope: Scope): string | undefined {
    const rank = this.identity.rank;
    if (!this.#modules.has(name)) {
      if (!scope || scope.has(rank)) return `btl '${name}' is not loaded on rank ${rank}`;
      return undefined;
    }
    const policy = this.bml.policy;
    const lost = this.bml.unreachableUnder((peer, c) => policy(peer, c) && (c !== name || !this.inScope(peer, scope)));
    return lost.length ? `unloading ${name} would leave rank ${rank} without a transport to rank(s) ${lost.join(',')}` : undefined;
  }

  /**
   * Hot unload (del_btl): the links in scope leave every list, are drained with their peers,
   * and deleted; a module with no peer left is finalized, and a component with no module left
   * is closed. Every rank must call this together.
   */
  async unload(name: string, scope: Scope, drainTimeoutMs?: number): Promise<string[]> {
    const modules = this.#modules.get(name);
    if (!modules) return [];
    const rank = this.identity.rank;
    const peers = !scope || scope.has(rank) ? undefined : scope;
    let whole = true;
    for (const m of modules) whole = (await this.bml.removeModule(m, peers, drainTimeoutMs)) && whole;
    if (!whole) return [`${name}: links to rank(s) ${[...peers!].join(',')} drained and removed`];
    this.#modules.delete(name);
    await this.framework.unload(name);
    return [`unloaded ${name}`];
  }

  /** Would `policy` leave this rank without a transport to some peer? The reason, or undefined. */
  checkPolicy(policy: (peer: number, component: string) => boolean): string | undefined {
    const lost = this.bml.unreachableUnder(policy);
    return lost.length ? `rank ${this.identity.rank} would have no transport to rank(s) ${lost.join(',')}` : undefined;
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
    const { jobId, rank, size, hostname, secret } = this.identity;
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

  #entry(): ModexEntry {
    const btl: Record<string, unknown[]> = {};
    for (const [component, modules] of this.#modules) btl[component] = modules.map((m) => m.businessCard ?? null);
    return { hostname: this.identity.hostname, node: this.#node, btl };
  }

  #procs(component: string): BtlProc[] {
    return this.#modex.map((entry, rank) => ({
      rank,
      hostname: entry.hostname,
      local: entry.node !== undefined ? entry.node === this.#node : entry.hostname === this.identity.hostname,
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
