import type { Bml, Transports } from '@switchyard/core-bml';
import type { ControlHost, WireUp } from '@switchyard/runtime';
import type { Coordinator } from './coordinator.js';

/** What a rank notifies the coordinator with when a failed transport of its can be loaded again. */
interface RecoverRequest {
  readonly ctl: 'recover';
  readonly btl: string;
}

function isRecoverRequest(body: unknown): body is RecoverRequest {
  const b = body as RecoverRequest | undefined;
  return b?.ctl === 'recover' && typeof b.btl === 'string';
}

/** Between attempts while a peer has no working link left. */
const STRANDED_RETRY_MS = 200;

/**
 * Brings back, by itself, a transport whose module failed on this rank (a device reset, a port
 * down): every `bml_recovery_interval` it probes whether the component can be loaded here again
 * and, once it can, asks the job's coordinator to reload it on this rank: the verb an operator
 * would run (`ctl load NAME --ranks R`), all or nothing, in turn with other verbs. A link that
 * failed on its own (tcp) is probed back by the BML; this is for a whole module.
 */
export class ModuleRecovery {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly transports: Transports,
    readonly wireup: WireUp,
    readonly intervalMs: number,
  ) {}

  apply(bml: Bml): void {
    // Timers are unref'd: a pending attempt never keeps a finished rank alive.
    bml.hooks.moduleFailed.tap('module-recovery', (module) => this.#schedule(module.component));
  }

  /**
   * The next attempt: after the interval, or soon while a peer has no working link left (its
   * traffic waits for this module, and is lost at the peer timeout), as the BML probes links.
   */
  #schedule(component: string): void {
    if (this.intervalMs <= 0 || this.#timers.has(component)) return;
    const delay = this.transports.bml.unreachable().length > 0 ? Math.min(this.intervalMs, STRANDED_RETRY_MS) : this.intervalMs;
    const timer = setTimeout(() => void this.#attempt(component), delay);
    timer.unref();
    this.#timers.set(component, timer);
  }

  async #attempt(component: string): Promise<void> {
    this.#timers.delete(component);
    // Back already (an operator's `ctl load`), unloaded meanwhile, or the rank finalized: nothing to do.
    if (this.transports.loadState(component) !== 'failed') return;
    // The probe: would the component work here now (the device back, the port up)?
    const probe = await this.transports.framework.query(component);
    if (probe.available) {
      try {
        this.wireup.notify({ ctl: 'recover', btl: component } satisfies RecoverRequest);
      } catch {
        return; // the rank is finalizing
      }
    }
    // Still failed at the next interval (not loadable yet, or the reload was refused): again.
    this.#schedule(component);
  }
}

/** Requests that come this close together are served by one verb: a fault on a shared device hits several ranks. */
const GATHER_MS = 250;

/**
 * The coordinator's side: ranks say a failed transport of theirs can be loaded again, and the
 * coordinator reloads it there as one verb, `load NAME --ranks R,...`, for every rank that asked
 * within a moment of the first. A rank that asks while a reload of that transport runs on other
 * ranks is served right after it (a fault on a shared device hits ranks a moment apart, and
 * each asks only once an interval). Returns the unsubscribe function.
 */
export function serveRecoveryRequests(job: ControlHost, coordinator: Pick<Coordinator, 'run'>, log: (line: string) => void): () => void {
  if (!job.onNotify) return () => {};
  const gathering = new Map<string, Set<number>>();
  /** The ranks a running reload serves, by transport. */
  const running = new Map<string, ReadonlySet<number>>();
  /** Ranks that asked while a reload of the same transport ran elsewhere. */
  const next = new Map<string, Set<number>>();
  const serve = async (btl: string, ranks: number[]) => {
    running.set(btl, new Set(ranks));
    try {
      const result = await coordinator.run({ verb: 'load', btl, ranks }, `the job reloading its failed ${btl} by itself`);
      const who = `rank${ranks.length > 1 ? 's' : ''} ${ranks.join(',')}`;
      if (result.ok) log(`switchyard: btl ${btl} failed on ${who} and is back: reloaded there (${Math.round(result.ms)} ms)`);
      // Refused (another verb runs, or nothing to do any more): the ranks ask again next interval.
      else if (result.outcome !== 'refused')
        log(`switchyard: btl ${btl} on ${who} could not be reloaded yet: ${result.errors.map((e) => e.message).join('; ')}`);
    } finally {
      running.delete(btl);
      const waited = next.get(btl);
      next.delete(btl);
      if (waited) void serve(btl, [...waited].sort((a, b) => a - b));
    }
  };
  return job.onNotify((rank, body) => {
    if (!isRecoverRequest(body)) return;
    const served = running.get(body.btl);
    if (served) {
      if (!served.has(rank)) next.set(body.btl, (next.get(body.btl) ?? new Set()).add(rank));
      return;
    }
    let ranks = gathering.get(body.btl);
    if (ranks) {
      ranks.add(rank);
      return;
    }
    gathering.set(body.btl, (ranks = new Set([rank])));
    setTimeout(() => {
      gathering.delete(body.btl);
      void serve(body.btl, [...ranks!].sort((a, b) => a - b));
    }, GATHER_MS).unref();
  });
}
