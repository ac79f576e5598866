import type { RuleReport, RuleStatus } from '../protocol.js';

/** The kit's verdict on one rule for the whole job. */
export interface Outcome {
  readonly status: RuleStatus;
  /** What was wrong (failed), or why the rule does not apply (n/a). */
  readonly observed?: string;
}

export type Outcomes = Map<string, Outcome>;

/** One verdict from every rank's: failed if any rank failed, not applicable if every rank says so. */
export function mergeReports(reports: readonly RuleReport[], rule: string, ranks: number): Outcome | undefined {
  const mine = reports.filter((r) => r.rule === rule);
  if (!mine.length) return undefined;
  const failed = mine.filter((r) => r.status === 'fail');
  if (failed.length) return { status: 'fail', observed: failed.map((r) => `rank ${r.rank}: ${r.observed}`).join('\n    ') };
  if (mine.length < ranks) {
    const missing = Array.from({ length: ranks }, (_, r) => r).filter((r) => !mine.some((m) => m.rank === r));
    return { status: 'fail', observed: `rank(s) ${missing.join(', ')} never reported this check` };
  }
  if (mine.every((r) => r.status === 'n/a')) return { status: 'n/a', observed: mine[0]!.observed ?? 'not applicable' };
  return { status: 'pass' };
}
