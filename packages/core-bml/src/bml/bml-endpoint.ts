import { BtlFlag } from '@switchyard/btl-interface';
import type { BmlBtl } from './bml-btl.js';

/**
 * Which of a peer's modules may carry traffic: by default all (the configured policy); `switch`
 * narrows it to some components.
 */
export type ComponentFilter = (component: string) => boolean;

/**
 * Everything the BML knows about one peer (Open MPI's `mca_bml_base_endpoint_t`): every module
 * that reaches it, and the eager, send and RDMA lists built from them. The lists are replaced
 * wholesale on every change (never edited in place), so a caller iterating one keeps a
 * consistent snapshot.
 */
export class BmlEndpoint {
  /** Every module endpoint reaching this peer, used or not. */
  readonly btls: BmlBtl[] = [];
  eager: readonly BmlBtl[] = [];
  send: readonly BmlBtl[] = [];
  rdma: readonly BmlBtl[] = [];
  /** Smallest max send size over the send list. */
  maxSendSize = 0;
  /** Every module of the send list offers `progress`: what this peer sends can be polled for synchronously. */
  polled = false;
  /**
   * The send list holds transports the traffic policy left out, because every one it allows
   * failed (or was unloaded after failing); cleared once one it allows works.
   */
  fallback = false;
  /** Every transport the policy allows failed (sticky until one works again), whatever else is left. */
  #faulted = false;
  /** Round-robin position in the eager list. */
  #eagerNext = 0;

  constructor(readonly rank: number) {}

  /** How a trace names it: the peer and the links that carry its sends. */
  traceLabel(): string {
    return `rank ${this.rank} [${this.send.map((b) => b.module.name).join(', ')}]`;
  }

  /**
   * Rebuilds the lists with Open MPI r2's rules: the send list holds the reachable send-capable
   * modules of the highest exclusivity, ordered by bandwidth and weighted by its share; the
   * eager list those of the lowest latency among them; the RDMA list those that also have
   * PUT or GET. Returns the module endpoints that were in the send list and are not any more:
   * the traffic moved off them, so they must be drained.
   */
  recompute(
    allowed: ComponentFilter = () => true,
    exclusivityOf: (b: BmlBtl) => number = (b) => b.module.exclusivity,
    polls: (module: BmlBtl['module']) => boolean = (m) => m.progress !== undefined,
  ): BmlBtl[] {
    const working = this.btls.filter((b) => !b.retired && !b.failure && b.module.flags & BtlFlag.SEND);
    const chosen = working.filter((b) => allowed(b.module.component));
    // The transports a switch chose for this peer all failed: a fault outranks a preference, so
    // the others loaded carry its traffic until one of the chosen works again (also while the
    // failed one is unloaded and loaded anew, when none of it is in the list at all).
    this.#faulted = chosen.length === 0 && (this.#faulted || this.btls.some((b) => b.failure && !b.retired && allowed(b.module.component)));
    this.fallback = this.#faulted && working.length > 0;
    const usable = this.#faulted ? working : chosen;
    const top = Math.max(-Infinity, ...usable.map(exclusivityOf));
    const send = usable.filter((b) => exclusivityOf(b) === top).sort((a, b) => b.module.bandwidth - a.module.bandwidth);
    const total = send.reduce((sum, b) => sum + b.module.bandwidth, 0);
    for (const b of this.btls) b.weight = 0;
    for (const b of send) b.weight = total > 0 ? b.module.bandwidth / total : 1 / send.length;
    const minLatency = Math.min(...send.map((b) => b.module.latency));
    this.send = Object.freeze(send);
    this.eager = Object.freeze(send.filter((b) => b.module.latency === minLatency));
    this.rdma = Object.freeze(send.filter((b) => b.module.flags & BtlFlag.RDMA));
    this.maxSendSize = send.length ? Math.min(...send.map((b) => b.module.maxSendSize)) : 0;
    this.refreshPolled(polls);
    this.#eagerNext = 0;
    const left: BmlBtl[] = [];
    for (const b of this.btls) {
      const inUse = send.includes(b);
      if (b.inUse && !inUse) left.push(b);
      b.inUse = inUse;
    }
    return left;
  }

  /** Sets `polled` from the send list: every module of it polls (`polls`). */
  refreshPolled(polls: (module: BmlBtl['module']) => boolean): void {
    this.polled = this.send.length > 0 && this.send.every((b) => polls(b.module));
  }

  /** The next eager module that can take a fragment now, round-robin; undefined if all are blocked. */
  nextEager(): BmlBtl | undefined {
    const list = this.eager;
    for (let i = 0; i < list.length; i++) {
      const b = list[(this.#eagerNext + i) % list.length]!;
      if (!b.blocked) {
        this.#eagerNext = (this.#eagerNext + i + 1) % list.length;
        return b;
      }
    }
    return undefined;
  }

  /**
   * The send-list module that is furthest behind its bandwidth share of `sentByBtl` and can take
   * a fragment now: weighted striping of a large message.
   */
  nextStripe(sentByBtl: Map<BmlBtl, number>, totalSent: number): BmlBtl | undefined {
    let best: BmlBtl | undefined;
    let bestDeficit = -Infinity;
    for (const b of this.send) {
      if (b.blocked) continue;
      const deficit = b.weight * (totalSent + 1) - (sentByBtl.get(b) ?? 0);
      if (deficit > bestDeficit) {
        best = b;
        bestDeficit = deficit;
      }
    }
    return best;
  }

  reachable(): boolean {
    return this.send.length > 0;
  }
}
