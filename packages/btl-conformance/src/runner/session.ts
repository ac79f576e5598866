import type { Setup } from '../options.js';
import { RULES } from '../rules.js';
import { contractJobMs, runContractJob } from './contract-job.js';
import { CONTROL_RULES, runControlJob } from './control-job.js';
import type { Outcome, Outcomes } from './outcome.js';
import { runThreeRankJob, THREE_RANK_RULES, THREE_RANKS, withThreeRanks } from './three-rank-job.js';
import { runLinkCutJob } from './link-cut-job.js';
import { runTwoJobs } from './two-jobs.js';
import { runWideJob } from './wide-job.js';

const isControlRule = (id: string) => (CONTROL_RULES as readonly string[]).includes(id);
/** Rules checked in jobs of their own, after the contract and control jobs: started only when their test runs. */
const SIDE_RULES: Readonly<Record<string, (setup: Setup) => Promise<Outcome>>> = {
  'wide-job': runWideJob,
  'two-jobs': runTwoJobs,
  'link-cut': runLinkCutJob,
};

/**
 * The jobs of one kit run, started on the first test that needs each and shared by the tests
 * after it: the contract job (most rules) and the control job (switching under traffic); then
 * the side jobs, one rule each (wide-job, two-jobs, link-cut).
 */
export class ConformanceSession {
  #contract?: Promise<Outcomes>;
  #control?: Promise<Outcomes>;
  #threeRanks?: Promise<Outcomes>;
  readonly #side = new Map<string, Promise<Outcome>>();

  constructor(readonly setup: Setup) {}

  /** The rules this run checks: all, minus skipped, limited to `only`. */
  rules(): string[] {
    return RULES.map((r) => r.id).filter((id) => !this.setup.skip.has(id) && (!this.setup.only || this.setup.only.has(id)));
  }

  async outcome(rule: string): Promise<Outcome> {
    const side = SIDE_RULES[rule];
    if (side) {
      if (!this.#side.has(rule)) this.#side.set(rule, side(this.setup));
      return this.#side.get(rule)!;
    }
    const outcomes = isControlRule(rule) ? await this.#controlJob() : await this.#contractJob();
    const own = outcomes.get(rule) ?? { status: 'fail', observed: 'the kit has no verdict for this rule (an internal error of the kit)' };
    if (!THREE_RANK_RULES.includes(rule) || this.setup.ranks >= THREE_RANKS) return own;
    this.#threeRanks ??= runThreeRankJob(this.setup, THREE_RANK_RULES.filter((r) => this.rules().includes(r)));
    return withThreeRanks(own, (await this.#threeRanks).get(rule));
  }

  /** The rules the contract job checks, in order. */
  contractRules(): string[] {
    return this.rules().filter((r) => !isControlRule(r) && !SIDE_RULES[r]);
  }

  /**
   * The test timeout of `rule`: its own, but the first test the contract job answers waits for
   * the whole job (the tests after it read its verdicts).
   */
  testTimeoutMs(rule: string): number {
    const contract = this.contractRules();
    return rule === contract[0] ? contractJobMs(this.setup, contract.length) + 5000 : this.setup.timeoutMs;
  }

  #contractJob(): Promise<Outcomes> {
    this.#contract ??= runContractJob(this.setup, this.contractRules());
    return this.#contract;
  }

  #controlJob(): Promise<Outcomes> {
    this.#control ??= runControlJob(this.setup);
    return this.#control;
  }
}
