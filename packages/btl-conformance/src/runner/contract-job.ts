import { linesWith, REPORT_PREFIX, START_PREFIX, type ContractConfig, type RuleReport } from '../protocol.js';
import type { Setup } from '../options.js';
import { COMPANION_COMPONENT, jobArgs } from './job-args.js';
import { scratchDir, start, tail } from './launch.js';
import { mergeReports, type Outcomes } from './outcome.js';
import { rankScript, switchyardCli } from './paths.js';
import { Stopper } from './stopper.js';

/**
 * The time the contract job gets: `timeoutMs`, or more where many rules share it. A broken BTL
 * fails a rule after about `waitMs` (a stream's fragments stop arriving), some rules after two:
 * its later rules still get their verdicts, not "not checked" because an earlier one used the time.
 */
export function contractJobMs(setup: Setup, rules: number): number {
  return Math.max(setup.timeoutMs, 30_000 + rules * 2 * setup.waitMs);
}

/**
 * Runs the contract job: the component under test is loaded by the kit in every rank (the job
 * itself runs on the companion BTL, so a BTL that reaches nothing still gets checked), and each
 * rank prints its verdicts. A job that dies or hangs fails the rule it was in.
 */
export async function runContractJob(setup: Setup, rules: readonly string[]): Promise<Outcomes> {
  const { component, waitMs, soakMs, stopMs, holdMs, streamFragments } = setup;
  const config: ContractConfig = { component, rules, waitMs, soakMs, stopMs, holdMs, streamFragments };
  const limitMs = contractJobMs(setup, rules.length) - 2000;
  const args = [...jobArgs(setup, [COMPANION_COMPONENT], limitMs), rankScript('contract-rank'), JSON.stringify(config)];
  const scratch = scratchDir();
  const job = start(switchyardCli(), args, { cwd: setup.packageDir, timeoutMs: limitMs, scratch });
  // Ranks ask to be stopped from outside (back-pressure, stopped-peer, finalize-stopped-peer): served while the job runs.
  const stopper = new Stopper(scratch, job.child.pid!);
  const out = await job.exited.finally(() => stopper.close());
  const reports = linesWith<RuleReport>(out.stdout, REPORT_PREFIX);
  const started = linesWith<{ rule: string; rank: number }>(out.stdout, START_PREFIX);
  const outcomes: Outcomes = new Map();
  const ending = out.timedOut
    ? `the job was stopped after ${limitMs} ms`
    : `the job ended with ${out.signal ?? `exit code ${out.code}`}`;
  for (const rule of rules) {
    const merged = mergeReports(reports, rule, setup.ranks);
    if (merged && (merged.status === 'fail' || reports.filter((r) => r.rule === rule).length === setup.ranks)) {
      outcomes.set(rule, merged);
      continue;
    }
    const inProgress = started.some((s) => s.rule === rule);
    // The rule the job was in when it ended: begun, never reported.
    const stuck = started.find((s) => !reports.some((r) => r.rule === s.rule && r.rank === s.rank))?.rule;
    outcomes.set(rule, {
      status: 'fail',
      observed: inProgress
        ? `${ending} while this check ran (it never finished); stderr: ${tail(out.stderr)}`
        : `not checked: ${ending}${stuck ? ` while rule '${stuck}' ran` : ''}, before this check's turn came (the kit runs the ` +
          `rules in the order of RULES); stderr: ${tail(out.stderr)}`,
    });
  }
  return outcomes;
}
