import type { Setup } from '../options.js';
import { runContractJob } from './contract-job.js';
import type { Outcome } from './outcome.js';

/** The rule a short job of this many ranks checks again when the kit's jobs have fewer. */
export const THREE_RANKS = 3;
export const THREE_RANK_RULE = 'send-sizes';
// modex-card comes along: a wire-up that fails with three ranks leaves send-sizes unchecked, and must say why.
const RULES = ['modex-card', THREE_RANK_RULE];

/**
 * send-sizes once more, in a short 3-rank job. With one peer, a fragment handed up on the wrong
 * endpoint is on the right one by chance (a module that credits everything to the last peer
 * `addProcs` added); with two, each fragment must arrive on the endpoint of the rank whose
 * payload names it as the sender.
 */
export async function runThreeRankJob(setup: Setup): Promise<Outcome> {
  const outcomes = await runContractJob({ ...setup, ranks: THREE_RANKS }, RULES);
  const failed = RULES.flatMap((rule) => {
    const outcome = outcomes.get(rule);
    return outcome?.status === 'fail' ? [`in a ${THREE_RANKS}-rank job, ${rule}: ${outcome.observed}`] : [];
  });
  return failed.length ? { status: 'fail', observed: failed.join('\n    ') } : { status: 'pass' };
}

/** The rule's verdict from the kit's own job and the 3-rank one: failed if either failed. */
export function withThreeRanks(own: Outcome, three: Outcome): Outcome {
  if (three.status !== 'fail') return own;
  if (own.status !== 'fail') return three;
  return { status: 'fail', observed: `${own.observed}\n    ${three.observed}` };
}
