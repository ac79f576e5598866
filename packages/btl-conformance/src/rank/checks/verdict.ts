import type { RuleStatus } from '../../protocol.js';

export interface Verdict {
  readonly status: RuleStatus;
  readonly observed?: string;
}

export const notApplicable = (why: string): Verdict => ({ status: 'n/a', observed: why });

/** Pass when nothing was observed to be wrong; otherwise a failure listing what was. */
export function verdictOf(violations: readonly string[]): Verdict {
  return violations.length ? { status: 'fail', observed: violations.join('; ') } : { status: 'pass' };
}
