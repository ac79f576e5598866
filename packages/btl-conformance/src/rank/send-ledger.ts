import type { BtlEndpoint, BtlModule, SendCompletion } from '@switchyard/btl-interface';

/**
 * The kit's sends whose completion has not run yet, per module and endpoint, counted by the rule
 * that issued them. A flush waits for every send: one that hangs in a later rule is explained by a
 * completion an earlier rule never saw, not blamed on the rule that flushes.
 */
export class SendLedger {
  readonly #open = new WeakMap<BtlModule, Map<BtlEndpoint, Map<string, number>>>();
  /** The rule running now: what new sends are counted under. */
  rule = 'the start';

  /** Counts the sends of these modules from now on (a module that cannot be wrapped is left as it is). */
  track(modules: readonly BtlModule[]): void {
    for (const module of modules) {
      if (this.#open.has(module)) continue;
      const byEndpoint = new Map<BtlEndpoint, Map<string, number>>();
      const send = module.send.bind(module);
      const change = (endpoint: BtlEndpoint, rule: string, by: number) => {
        let rules = byEndpoint.get(endpoint);
        if (!rules) byEndpoint.set(endpoint, (rules = new Map()));
        const n = (rules.get(rule) ?? 0) + by;
        if (n > 0) rules.set(rule, n);
        else rules.delete(rule);
      };
      try {
        module.send = (endpoint, tag, segments, done?: SendCompletion) => {
          if (!done) return send(endpoint, tag, segments);
          const rule = this.rule;
          let ran = false;
          change(endpoint, rule, 1);
          const counted: SendCompletion = (error) => {
            if (!ran) change(endpoint, rule, -1);
            ran = true;
            done(error);
          };
          try {
            return send(endpoint, tag, segments, counted);
          } catch (error) {
            if (!ran) change(endpoint, rule, -1);
            ran = true;
            throw error;
          }
        };
      } catch {
        // A frozen module: its sends are not counted, and a hanging flush is explained less.
        continue;
      }
      this.#open.set(module, byEndpoint);
    }
  }

  /**
   * Sends to `endpoint` (to any, without one) whose completion never ran: how many, and by the rule
   * that issued them ("2 from rule 'modex-card'"); undefined when there are none.
   */
  unfinished(module: BtlModule, endpoint?: BtlEndpoint): { sends: number; byRule: string } | undefined {
    const total = new Map<string, number>();
    for (const [to, rules] of this.#open.get(module) ?? []) {
      if (endpoint !== undefined && to !== endpoint) continue;
      for (const [rule, n] of rules) total.set(rule, (total.get(rule) ?? 0) + n);
    }
    if (!total.size) return undefined;
    const byRule = [...total].map(([rule, n]) => `${n} from rule '${rule}'`).join(', ');
    return { sends: [...total.values()].reduce((a, b) => a + b, 0), byRule };
  }

  /** What a flush that did not resolve waits for, when the kit knows: '' or '; ... keep it waiting (...)'. */
  flushNote(module: BtlModule, endpoint?: BtlEndpoint): string {
    const open = this.unfinished(module, endpoint);
    if (!open) return '';
    return `; ${open.sends} send(s) whose completion never ran (${open.byRule}) keep it waiting: every send must run its completion once`;
  }
}

/** This rank's ledger: one kit rank tests one component. */
export const sendLedger = new SendLedger();
