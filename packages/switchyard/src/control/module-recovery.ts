import type { Transports } from '@switchyard/core-bml';
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

  apply(transports: Transports): void {
    // Timers are unref'd: a pending attempt never keeps a finished rank alive.
    transports.bml.hooks.moduleFailed.tap('module-recovery', (module) => this.#schedule(module.component));
  }

  #schedule(component: string): void {
    if (this.intervalMs <= 0 || this.#timers.has(component)) return;
    const timer = setTimeout(() => void this.#attempt(component), this.intervalMs);
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

/**
 * The coordinator's side: a rank says a failed transport of its can be loaded again, and the
 * coordinator reloads it there as the verb `load NAME --ranks R`. Returns the unsubscribe function.
 */
export function serveRecoveryRequests(job: ControlHost, coordinator: Coordinator, log: (line: string) => void): () => void {
  const running = new Set<string>();
  if (!job.onNotify) return () => {};
  return job.onNotify((rank, body) => {
    if (!isRecoverRequest(body)) return;
    const key = `${body.btl}@${rank}`;
    if (running.has(key)) return;
    running.add(key);
    void coordinator
      .run({ verb: 'load', btl: body.btl, ranks: [rank] })
      .then((result) => {
        if (result.ok) log(`switchyard: btl ${body.btl} failed on rank ${rank} and is back: reloaded there (${Math.round(result.ms)} ms)`);
        // Refused because another verb runs, or still failing: the rank asks again next interval.
        else if (result.outcome !== 'refused') log(`switchyard: btl ${body.btl} on rank ${rank} could not be reloaded yet: ${result.errors.map((e) => e.message).join('; ')}`);
      })
      .finally(() => running.delete(key));
  });
}
