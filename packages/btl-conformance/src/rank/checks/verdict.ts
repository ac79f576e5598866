import type { RuleStatus } from '../../protocol.js';

export interface Verdict {
  readonly status: RuleStatus;
  readonly observed?: string;
}

export const notApplicable = (why: string): Verdict => ({ status: 'n/a', observed: why });

/** What one rank's failure shows at most: the first violations say what is wrong, thousands more would bury them. */
const MAX_VIOLATIONS = 16;
const MAX_VIOLATION_CHARS = 1000;

/** Pass when nothing was observed to be wrong; otherwise a failure listing what was (the first of them). */
export function verdictOf(violations: readonly string[]): Verdict {
  if (!violations.length) return { status: 'pass' };
  const cut = (v: string) =>
    v.length > MAX_VIOLATION_CHARS ? `${v.slice(0, MAX_VIOLATION_CHARS)}… (${v.length - MAX_VIOLATION_CHARS} characters more)` : v;
  const shown = violations.slice(0, MAX_VIOLATIONS).map(cut);
  const more = violations.length - shown.length;
  return { status: 'fail', observed: [...shown, ...(more ? [`and ${more} more like these`] : [])].join('; ') };
}
