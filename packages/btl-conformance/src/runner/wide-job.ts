import type { Setup } from '../options.js';
import type { Outcome } from './outcome.js';
import { runSideJob } from './side-job.js';

/**
 * Rule wide-job: one job of `wideRanks` ranks (12 by default), each sending a few fragments to
 * every endpoint, each to arrive once on the endpoint of the rank that sent it. The kit's other
 * jobs have 2 to 4 ranks: a sender read back from one digit of an id, or from a few bits of a
 * header, is right there and wrong from rank 10 on.
 */
export async function runWideJob(setup: Setup): Promise<Outcome> {
  const outcome = await runSideJob(setup, setup.wideRanks, { component: setup.component, rule: 'wide-job', waitMs: setup.waitMs });
  if (outcome.status !== 'fail') return outcome;
  return { status: 'fail', observed: `in a ${setup.wideRanks}-rank job: ${outcome.observed}` };
}
