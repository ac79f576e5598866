import { formatRankList } from '@switchyard/control';
import { REPORT_PREFIX, linesWith, type RuleReport, type SideConfig } from '../protocol.js';
import type { Setup } from '../options.js';
import { COMPANION_COMPONENT, jobArgs } from './job-args.js';
import { scratchDir, start, tail } from './launch.js';
import { mergeReports, type Outcome } from './outcome.js';
import { rankScript, switchyardCli } from './paths.js';

/** What the kit's runner does for a job's ranks from outside while it runs (stops, cuts), given its scratch folder and launcher's pid. */
export type JobServices = (scratch: string, jobPid: number) => Array<{ close(): void }>;

/**
 * Runs one side job (side-rank.js, one rule) of `ranks` ranks on the kit's companion BTL, the
 * component under test loaded by the kit in every rank as in the contract job. Its verdict is
 * every rank's, and the job must finish: a rank that never reported, or a job that ended
 * otherwise than with exit code 0, fails the rule with the job's stderr.
 */
export async function runSideJob(setup: Setup, ranks: number, config: SideConfig, serve?: JobServices): Promise<Outcome> {
  const limitMs = setup.timeoutMs - 2000;
  const args = [...jobArgs({ ...setup, ranks }, [COMPANION_COMPONENT], limitMs), rankScript('side-rank'), JSON.stringify(config)];
  const scratch = scratchDir();
  const job = start(switchyardCli(), args, { cwd: setup.packageDir, timeoutMs: limitMs, scratch });
  const services = serve?.(scratch, job.child.pid!) ?? [];
  const out = await job.exited.finally(() => services.forEach((s) => s.close()));
  const reports = linesWith<RuleReport>(out.stdout, REPORT_PREFIX);
  const merged = alike(mergeReports(reports, config.rule, ranks), reports);
  const ending = out.timedOut ? `the job was stopped after ${limitMs} ms` : `the job ended with ${out.signal ?? `exit code ${out.code}`}`;
  const why = `${ending}; stderr: ${tail(out.stderr)}`;
  if (!merged) return { status: 'fail', observed: `${ending} before any rank reported; stderr: ${tail(out.stderr)}` };
  if (out.code === 0 && !out.timedOut) return merged;
  if (merged.status === 'fail') return { status: 'fail', observed: `${merged.observed}\n    (${why})` };
  return { status: 'fail', observed: `every rank reported, but the job did not finish: ${why}` };
}

/**
 * A failure with the ranks that saw the same thing named once ("ranks 0,2-11: ..."): in a wide
 * job every rank tends to see the same misrouted sender.
 */
function alike(merged: Outcome | undefined, reports: readonly RuleReport[]): Outcome | undefined {
  if (merged?.status !== 'fail') return merged;
  const failed = reports.filter((r) => r.status === 'fail');
  if (!failed.length) return merged;
  const byText = new Map<string, number[]>();
  for (const r of failed) byText.set(r.observed ?? '', [...(byText.get(r.observed ?? '') ?? []), r.rank]);
  const lines = [...byText].map(([text, ranks]) => {
    const who = formatRankList([...ranks].sort((a, b) => a - b));
    return `${ranks.length > 1 ? 'ranks' : 'rank'} ${who}: ${text}`;
  });
  return { status: 'fail', observed: lines.join('\n    ') };
}
