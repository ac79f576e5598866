import { launchJob, type BindPolicy } from '@switchyard/runtime';
import { BenchRunError } from './errors.js';
import { lineSink } from './lines.js';
import { encodePlan, type RunPlan } from './protocol.js';
import type { RunContext } from './run-context.js';
import { benchProgram, type BenchProgram } from './scripts.js';
import type { ProgressMode } from './types.js';

/** Milliseconds ranks get between SIGTERM and SIGKILL when a run is stopped. */
const KILL_GRACE_MS = 1000;

/** The `--mca` pairs of a Switchyard run over `btl`: the BTL plus self, progress mode, then the user's. */
export function switchyardMca(btl: string, mode: ProgressMode, userMca: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [['btl', `${btl},self`]];
  // Loopback only: the bench never sends traffic to another address of this machine.
  if (btl === 'tcp' && !userMca.some(([k]) => k === 'btl_tcp_if_include' || k === 'btl_tcp_if_exclude'))
    pairs.push(['btl_tcp_if_include', '127.0.0.0/8']);
  if (mode === 'busy') pairs.push(['pml_busy_poll', '1']);
  return [...pairs, ...userMca.map(([k, v]): [string, string] => [k, v])];
}

/**
 * Runs the plan as a 2-rank Switchyard job over `btl` (with self) through the embedded launcher.
 * Rejects with the job's own reason when it fails; resolves early, its ranks ended, on abort.
 */
export async function runSwitchyard(
  btl: string,
  mode: ProgressMode,
  plan: RunPlan,
  userMca: ReadonlyArray<readonly [string, string]>,
  bindTo: BindPolicy | undefined,
  ctx: RunContext,
): Promise<void> {
  const job = { np: 2, program: 'switchyard-rank', args: [encodePlan(plan)], label: `switchyard-${btl}`, bindTo } as const;
  await runBenchJob(job, switchyardMca(btl, mode, userMca), (line) => ctx.onOutput(line), ctx);
}

/** A Switchyard job of a bench program: `label` names it in the launcher's lines and in errors. */
export interface BenchJob {
  readonly np: number;
  readonly program: BenchProgram;
  readonly args: readonly string[];
  readonly label: string;
  /** `switchyard run --bind-to`; unset, its default (mpirun's). */
  readonly bindTo?: BindPolicy;
}

/**
 * Runs the job through the embedded launcher, its stdout lines to `onLine`. Rejects with the
 * job's own reason when it fails; resolves early, its ranks ended, on abort.
 */
export async function runBenchJob(
  job: BenchJob,
  mca: ReadonlyArray<readonly [string, string]>,
  onLine: (line: string) => void,
  ctx: RunContext,
): Promise<void> {
  const logPrefix = `switchyard bench (${job.label} job)`;
  const result = await launchJob({
    np: job.np,
    script: benchProgram(job.program),
    args: [...job.args],
    ...(job.bindTo ? { bindTo: job.bindTo } : {}),
    cwd: ctx.cwd,
    env: ctx.env,
    mca,
    tagOutput: false,
    stdout: lineSink(onLine),
    // The launcher's own lines say why it aborted: the error thrown below says it once.
    stderr: lineSink((line) => void (line.startsWith(`${logPrefix}: `) || ctx.onOutput(line))),
    signal: ctx.signal,
    handleSignals: false,
    killGraceMs: KILL_GRACE_MS,
    logPrefix,
  });
  if (result.exitCode !== 0 && !ctx.signal.aborted) {
    const flags = mca.map(([k, v]) => `--mca ${k} ${v}`).join(' ');
    throw new BenchRunError(`the ${job.label} job (${flags}) failed: ${result.abortReason ?? `exit code ${result.exitCode}`}`);
  }
}
