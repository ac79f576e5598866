import type { Bml, BmlBtl } from '@switchyard/core-bml';
import type { StalledSends as Stalled } from './protocol.js';

/** A link holding sends for less than this is busy, not stalled (a peer's compute phase, a full socket). */
const STALL_MS = 2000;

interface Watch {
  completed: number;
  since: number;
}

/**
 * Links whose module holds sends and has completed none of them for a while: a peer that
 * stopped reading, or a module that lost them (never called `done`). Sampled by the health
 * timer from the counters the BML keeps anyway, so the message path pays nothing for it.
 */
export class StalledSendsWatch {
  readonly #watches = new Map<BmlBtl, Watch>();

  sample(bml: Bml, now: number): void {
    const seen = new Set<BmlBtl>();
    for (const endpoint of bml.endpoints) {
      for (const link of endpoint.btls) {
        if (link.inFlight <= 0 || link.failure) continue;
        seen.add(link);
        const watch = this.#watches.get(link);
        if (!watch || watch.completed !== link.completed) this.#watches.set(link, { completed: link.completed, since: now });
      }
    }
    for (const link of this.#watches.keys()) if (!seen.has(link)) this.#watches.delete(link);
  }

  /** The links stalled for at least STALL_MS at the last sample, longest first. */
  stalled(now: number): Stalled[] {
    const out: Stalled[] = [];
    for (const [link, watch] of this.#watches) {
      const forMs = now - watch.since;
      if (forMs < STALL_MS || link.completed !== watch.completed || link.inFlight <= 0) continue;
      out.push({ module: link.module.name, peer: link.rank, sends: link.inFlight, forMs: Math.round(forMs) });
    }
    return out.sort((a, b) => b.forMs - a.forMs);
  }
}
