import type { Setup } from '../options.js';
import { runContractJob } from './contract-job.js';
import type { Outcome, Outcomes } from './outcome.js';

/** The rules a short job of this many ranks checks again when the kit's jobs have fewer. */
export const THREE_RANKS = 3;
export const THREE_RANK_RULES: readonly string[] = ['send-sizes', 'link-loss'];
// modex-card comes along: a wire-up that fails with three ranks leaves the rules unchecked, and must say why.
const WIRE_UP = 'modex-card';

/**
 * Some rules once more, in a short 3-rank job. send-sizes: with one peer, a fragment handed up on
 * the wrong endpoint is on the right one by chance (a module that credits everything to the last
 * peer `addProcs` added); with two, each fragment must arrive on the endpoint of the rank whose
 * payload names it as the sender. link-loss: with one peer, the peer a module sent to last is the
 * one whose link failed; with two, a loss blamed on the last peer sent to names the healthy one.
 * `rules`: those of THREE_RANK_RULES this run checks. Each rule's verdict here, a failed wire-up
 * counted for each.
 */
export async function runThreeRankJob(setup: Setup, rules: readonly string[]): Promise<Outcomes> {
  const outcomes = await runContractJob({ ...setup, ranks: THREE_RANKS }, [WIRE_UP, ...rules]);
  const wireUp = failure(WIRE_UP, outcomes.get(WIRE_UP));
  return new Map(rules.map((rule) => {
    const failed = [...wireUp, ...failure(rule, outcomes.get(rule))];
    return [rule, failed.length ? { status: 'fail', observed: failed.join('\n    ') } : { status: 'pass' }];
  }));
}

function failure(rule: string, outcome: Outcome | undefined): string[] {
  return outcome?.status === 'fail' ? [`in a ${THREE_RANKS}-rank job, ${rule}: ${outcome.observed}`] : [];
}

/** The rule's verdict from the kit's own job and the 3-rank one: failed if either failed. */
export function withThreeRanks(own: Outcome, three: Outcome | undefined): Outcome {
  if (three?.status !== 'fail') return own;
  if (own.status !== 'fail') return three;
  return { status: 'fail', observed: `${own.observed}\n    ${three.observed}` };
}
