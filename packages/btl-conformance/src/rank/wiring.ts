import { hostname } from 'node:os';
import type { BtlEndpoint, BtlModule, BtlProc } from '@switchyard/btl-interface';
import type { WireUp } from '@switchyard/runtime';
import type { KitHost } from './kit-host.js';

/** A module's endpoints by peer rank. */
export type EndpointMap = ReadonlyMap<number, BtlEndpoint>;

/**
 * The component under test wired up in one rank, as the BML would do it: cards exchanged through
 * the runtime's modex, addProcs for every rank, and the reach of every rank's modules known to
 * all (so a receiver knows which senders to expect).
 */
export class Wiring {
  readonly endpoints: EndpointMap[];
  /** reach[rank][moduleIndex]: the ranks that module of that rank has an endpoint for. */
  readonly reach: number[][][];

  private constructor(
    readonly wireup: WireUp,
    readonly host: KitHost,
    readonly modules: readonly BtlModule[],
    endpoints: EndpointMap[],
    reach: number[][][],
  ) {
    this.endpoints = endpoints;
    this.reach = reach;
  }

  get rank(): number {
    return this.wireup.rank;
  }

  /** Publishes the modules' cards, reads everyone's, and adds every rank to every module. */
  static async wire(
    wireup: WireUp,
    host: KitHost,
    component: string,
    modules: readonly BtlModule[],
    round: string,
    waitMs: number,
    options: WireOptions = {},
  ): Promise<Wiring> {
    const all = await exchangeProcs(wireup, modules, round, options.refresh ?? false);
    const procs = options.add ? all.filter((p) => options.add!(p.rank)) : all;
    await options.beforeAdd?.();
    const endpoints: EndpointMap[] = [];
    for (const [index, module] of modules.entries()) {
      const list = await host.adding(() => module.addProcs(procs));
      const map = new Map<number, BtlEndpoint>(options.keep?.[index] ?? []);
      if (!Array.isArray(list) || list.length !== procs.length) {
        throw new WiringError(
          `${component}: addProcs returned ${Array.isArray(list) ? `${list.length} entries` : String(list)} for ${procs.length} procs`,
        );
      }
      list.forEach((endpoint, at) => {
        const rank = procs[at]!.rank;
        if (!endpoint) return;
        if (endpoint.rank !== rank)
          throw new WiringError(`${module.name}: addProcs returned, for rank ${rank}, an endpoint that says rank ${endpoint.rank}`);
        if (endpoint.module !== module)
          throw new WiringError(`${module.name}: the endpoint for rank ${rank} names another module (${endpoint.module?.name})`);
        map.set(rank, endpoint);
        host.added(endpoint, rank, module);
      });
      endpoints.push(map);
    }
    await options.afterAdd?.(endpoints);
    const connectProblems = await awaitConnected(modules, endpoints, waitMs);
    const reachEntries = await wireup.exchange({ reach: endpoints.map((m) => [...m.keys()]) }, `kit-reach-${round}`);
    const wiring = new Wiring(
      wireup,
      host,
      modules,
      endpoints,
      reachEntries.map((e) => e.reach as number[][]),
    );
    wiring.connectProblems.push(...connectProblems);
    wiring.procs.push(...all);
    return wiring;
  }

  /** What `connected()` did wrong while wiring up (rejected, or never resolved). */
  readonly connectProblems: string[] = [];
  /** Every rank as its cards were exchanged for this wiring. */
  readonly procs: BtlProc[] = [];

  /** Who sends to this rank over which of their modules. */
  senders(): Array<{ rank: number; moduleIndex: number }> {
    const out: Array<{ rank: number; moduleIndex: number }> = [];
    this.reach.forEach((modules, rank) =>
      modules.forEach((ranks, moduleIndex) => ranks.includes(this.rank) && out.push({ rank, moduleIndex })),
    );
    return out;
  }

  /** Does any module of this component reach another rank anywhere in the job? */
  reachesPeers(): boolean {
    return this.reach.some((modules, rank) => modules.some((ranks) => ranks.some((r) => r !== rank)));
  }

  /** Pairs where one side has an endpoint and the other none: fragments would arrive unannounced. */
  asymmetries(): string[] {
    const out: string[] = [];
    this.reach.forEach((modules, a) => {
      for (const b of new Set(modules.flat())) {
        const back = this.reach[b]?.some((ranks) => ranks.includes(a));
        if (!back) out.push(`rank ${a} has an endpoint for rank ${b}, but rank ${b} has none for rank ${a}`);
      }
    });
    return out;
  }

  /** Every rank waits for every other (over the runtime, never over the BTL under test). */
  sync(name: string): Promise<void> {
    return this.wireup.barrier(`kit-${name}`);
  }

  /** Endpoints already given to delProcs: never given twice (the BML never does). */
  readonly #deleted = new Set<BtlEndpoint>();

  /**
   * Deletes some endpoints of module `moduleIndex` now. Once delProcs resolved the host knows them
   * as deleted (not before: what arrives while it runs may still come up on them).
   */
  async delEndpoints(moduleIndex: number, endpoints: readonly BtlEndpoint[]): Promise<void> {
    const fresh = endpoints.filter((e) => !this.#deleted.has(e));
    fresh.forEach((e) => this.#deleted.add(e));
    if (!fresh.length) return;
    await this.modules[moduleIndex]!.delProcs(fresh);
    this.host.deleted(fresh);
  }

  /** Forgets every peer (the BML's del_procs before finalize). */
  async delProcs(): Promise<void> {
    for (let i = 0; i < this.modules.length; i++) await this.delEndpoints(i, [...this.endpoints[i]!.values()]);
  }
}

/** Publishes the modules' cards (`refreshBusinessCard()` where asked and present) and reads every rank's: what addProcs takes. */
export async function exchangeProcs(wireup: WireUp, modules: readonly BtlModule[], round: string, refresh: boolean): Promise<BtlProc[]> {
  const cards = modules.map((m) => (refresh && m.refreshBusinessCard ? m.refreshBusinessCard() : m.businessCard) ?? null);
  const entries = await wireup.exchange({ hostname: hostname(), cards }, `kit-modex-${round}`);
  return entries.map((e, rank) => ({
    rank,
    hostname: String(e.hostname),
    local: e.hostname === hostname(),
    cards: (e.cards as unknown[]) ?? [],
  }));
}

/** How a wiring round differs from the first one. */
export interface WireOptions {
  /** Publish `refreshBusinessCard()` where a module has it (a module that stays loaded while peers come anew, as the BML does). */
  readonly refresh?: boolean;
  /** The ranks to give addProcs (default: all). */
  readonly add?: (rank: number) => boolean;
  /** Endpoints kept from before, by module index (for ranks not added again). */
  readonly keep?: readonly EndpointMap[];
  /** Runs after the cards are known, before addProcs. */
  readonly beforeAdd?: () => Promise<void>;
  /** Runs after addProcs, before waiting for connected(). */
  readonly afterAdd?: (endpoints: readonly EndpointMap[]) => Promise<void>;
}

/** addProcs broke its contract: the kit cannot go on with this module. */
export class WiringError extends Error {
  override readonly name = 'WiringError';
}

/**
 * As the BML does (API 1.1): a module with `connected()` gets no traffic on an endpoint until
 * that resolves. It must resolve, bounded by the module's own timeout, and never reject.
 */
async function awaitConnected(modules: readonly BtlModule[], endpoints: readonly EndpointMap[], waitMs: number): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(
    modules.flatMap((module, i) =>
      typeof module.connected !== 'function'
        ? []
        : [...endpoints[i]!].map(async ([rank, endpoint]) => {
            let timer: NodeJS.Timeout | undefined;
            const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
            try {
              const result = await Promise.race([Promise.resolve(module.connected!(endpoint)).then(() => 'up' as const), late]);
              if (result === 'late')
                problems.push(`'${module.name}'.connected(endpoint of rank ${rank}) did not resolve within ${waitMs} ms`);
            } catch (error) {
              problems.push(
                `'${module.name}'.connected(endpoint of rank ${rank}) rejected (${(error as Error)?.message}); it must resolve and ` +
                  `report a failure through host.error`,
              );
            } finally {
              clearTimeout(timer);
            }
          }),
    ),
  );
  return problems;
}
