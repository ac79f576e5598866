import type { Rule } from './rules.js';

/**
 * A BTL broke a rule of the contract. The message says which rule, where it is documented and
 * what was observed, so the failing test's output is enough to start fixing the BTL.
 */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
  readonly rule: string;
  readonly doc: string;
  readonly observed: string;

  constructor(rule: Pick<Rule, 'id' | 'title' | 'doc'>, observed: string) {
    super(`btl contract rule '${rule.id}' broken: ${rule.title}.\n  documented at: ${rule.doc}\n  observed: ${observed}`);
    this.rule = rule.id;
    this.doc = rule.doc;
    this.observed = observed;
  }
}
