import type { Framework, Mca } from '@switchyard/mca';
import { BTL_FRAMEWORK } from './btl/framework.js';
import type { BtlComponent, BtlInitContext, BtlModule, BtlProc } from './btl/types.js';
import { Bml } from './bml/bml.js';

/** Who this process is in its job; the BTLs need it to address and authenticate. */
export interface Identity {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  readonly secret: string;
}

/** One rank's modex entry: its host and, per BTL component, its modules' business cards. */
export interface ModexEntry {
  readonly hostname: string;
  readonly btl: Readonly<Record<string, readonly unknown[]>>;
}

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

  constructor(
    readonly mca: Mca,
    readonly identity: Identity,
    readonly exchange: Exchange,
  ) {
    this.framework = mca.framework(BTL_FRAMEWORK);
    this.bml = new Bml({
      rank: identity.rank,
      size: identity.size,
      log: (m) => {
        if (this.framework.verbose > 0) mca.log(`[rank ${identity.rank}] ${m}`);
      },
    });
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
    for (const [component, modules] of this.#modules) {
      for (const module of modules) await this.bml.addModule(module, this.#procs(component));
    }
    const unreachable = this.bml.unreachable();
    if (unreachable.length) {
      throw new UnreachableError(
        `rank ${this.identity.rank} cannot reach rank(s) ${unreachable.join(', ')}: no BTL reaches them. ` +
          `BTLs attempted: ${[...this.#modules.keys()].join(', ') || '(none)'}. ` +
          `Check the btl selection (btl=${this.mca.params.info('btl').text || '(all)'}) with 'switchyard info'`,
      );
    }
  }

  /** Removes every module from the BML (their work completes first) and unloads every component. */
  async stop(): Promise<void> {
    for (const modules of [...this.#modules.values()].reverse()) {
      for (const module of modules) await this.bml.removeModule(module);
    }
    this.#modules.clear();
    await this.framework.unloadAll();
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
    return { hostname: this.identity.hostname, btl };
  }

  #procs(component: string): BtlProc[] {
    return this.#modex.map((entry, rank) => ({
      rank,
      hostname: entry.hostname,
      local: entry.hostname === this.identity.hostname,
      cards: entry.btl[component] ?? [],
    }));
  }
}
