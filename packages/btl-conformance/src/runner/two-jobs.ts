import { rmSync } from 'node:fs';
import type { Setup } from '../options.js';
import type { Outcome } from './outcome.js';
import { kitTempDir } from './kit-temp.js';
import { runSideJob } from './side-job.js';

/** Ranks of each of the two jobs: one peer each, and the rank itself. */
export const PAIR_RANKS = 2;
const LABELS = ['A', 'B'] as const;

/**
 * Rule two-jobs: two jobs of the component on this host at the same time, as users run them. Each
 * loads it, waits until the other has too (so an address shared by both is taken by the second),
 * sends a few fragments to every endpoint, each naming its job and rank, and waits for the other
 * to finish sending before it unloads. Each job's fragments must arrive in that job only, all of
 * them, and both jobs must finish.
 */
export async function runTwoJobs(setup: Setup): Promise<Outcome> {
  const dir = kitTempDir('pair');
  // Long enough for the other job's start-up on a loaded machine, short of the rule's time.
  const meetMs = Math.min(Math.max(3 * setup.waitMs, 30_000), setup.timeoutMs / 3);
  try {
    const outcomes = await Promise.all(
      LABELS.map((label, index) =>
        runSideJob(setup, PAIR_RANKS, {
          component: setup.component,
          rule: 'two-jobs',
          waitMs: setup.waitMs,
          pair: { dir, label, other: LABELS[1 - index]!, index, meetMs },
        }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'fail' ? [`job ${LABELS[i]}: ${o.observed}`] : []));
    if (failed.length)
      return {
        status: 'fail',
        observed: `two ${PAIR_RANKS}-rank jobs of btl ${setup.component} ran on this host at once (job A and job B): ` +
          failed.join('\n    '),
      };
    if (outcomes.every((o) => o.status === 'n/a')) return outcomes[0]!;
    return { status: 'pass' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
