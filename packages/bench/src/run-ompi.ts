import type { SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { BenchRunError } from './errors.js';
import { spawnLogged } from './logged-child.js';
import { lastNotice } from './mpirun-notice.js';
import type { OmpiProgram } from './ompi-program.js';
import { childrenOf, isAlive } from '@switchyard/cli-kit';
import type { RunPlan } from './protocol.js';
import type { RunContext } from './run-context.js';
import type { OmpiBtl, Phase } from './types.js';
import type { BindPolicy } from '@switchyard/runtime/cpu-binding';
import { benchTempDir } from './temp-dirs.js';

const KILL_GRACE_MS = 1000;
/**
 * How long mpirun may take to exit once it has said that it aborts its job (a rank exited with an
 * error or a signal). Open MPI 4's mpirun was seen to hang there, then crash in PMIx_Finalize when
 * ended: without this the bench waited out its stall limit (two minutes) before saying anything.
 */
const ABORTED_EXIT_GRACE_MS = 5000;
/** mpirun's notices that its job is being aborted because a rank failed. */
const JOB_ABORTED = /the job has been aborted|mpirun noticed that process rank \d+/i;

/**
 * mpirun's options for a baseline run over `btl`: the reference command in docs/performance.md (ob1, the BTL
 * plus self, tcp on lo only). `--allow-run-as-root` only when running as root, where mpirun
 * refuses to start without it; `--bind-to` only when the bench was given one (mpirun's default
 * is the bench's).
 */
export function ompiMpirunArgs(btl: OmpiBtl, bindTo?: BindPolicy): string[] {
  const root = process.getuid?.() === 0;
  return [
    ...(root ? ['--allow-run-as-root'] : []),
    '--oversubscribe',
    '-np',
    '2',
    '--mca',
    'pml',
    'ob1',
    '--mca',
    'btl',
    `${btl},self`,
    ...(btl === 'tcp' ? ['--mca', 'btl_tcp_if_include', 'lo'] : []),
    ...(bindTo ? ['--bind-to', bindTo] : []),
  ];
}

/** A phase as mpi_pingpong's argument: `latency|bandwidth:SIZE:ITERATIONS:WARMUP:BATCHES:WINDOW`. */
export function encodeOmpiPhase(p: Phase): string {
  return [p.benchmark, p.size, p.iterations, p.warmup, p.batches, p.window].join(':');
}

/**
 * Runs the plan as Open MPI's baseline over `btl`: `mpirun -np 2 ... mpi_pingpong`, whose ranks
 * take their turns from the gate like the other runs of the mode. On abort mpirun (in a process
 * group of its own) and its ranks are ended, TERM then KILL; each rank also kills itself when a
 * step takes longer than `stepTimeoutMs`. Resolves once mpirun and its ranks are gone.
 */
export async function runOmpi(
  btl: OmpiBtl,
  plan: RunPlan,
  ompi: OmpiProgram,
  stepTimeoutMs: number,
  bindTo: BindPolicy | undefined,
  ctx: RunContext,
): Promise<void> {
  if (ctx.signal.aborted) return;
  const mpirunArgs = ompiMpirunArgs(btl, bindTo);
  const args = [
    ...mpirunArgs,
    ompi.program,
    plan.gate.path,
    plan.gate.session,
    String(Math.ceil(stepTimeoutMs / 1000)),
    ...plan.phases.map(encodeOmpiPhase),
  ];
  await runUnderMpirun(ompi.mpirun, args, `the ompi-${btl} run (mpirun ${mpirunArgs.join(' ')})`, 'mpi_pingpong', ctx);
}

/**
 * Runs `mpirun ARGS` in a process group of its own, its output lines to `ctx.onOutput`. On abort
 * mpirun and its ranks are ended, TERM then KILL. Rejects with a BenchRunError naming `what`
 * (and the lines starting with `program`, the ranks' own errors) when it fails.
 */
export async function runUnderMpirun(
  mpirun: string,
  args: readonly string[],
  what: string,
  program: string,
  ctx: RunContext,
): Promise<void> {
  // Open MPI's session folder (ompi.HOST.UID/pid.N) in one of ours, removed once mpirun and its
  // ranks are gone: an mpirun ended by an interrupted bench leaves its own behind in /tmp.
  const session = benchTempDir('mpirun');
  const env = { ...ctx.env, OMPI_MCA_orte_tmpdir_base: session, PRTE_MCA_prte_tmpdir_base: session };
  const spawnOptions: SpawnOptions = { cwd: ctx.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true };
  let abortedTimer: NodeJS.Timeout | undefined;
  let hungAfterAbort = false;
  const onOutput = (line: string) => {
    ctx.onOutput(line);
    if (abortedTimer === undefined && JOB_ABORTED.test(line)) {
      abortedTimer = setTimeout(() => {
        hungAfterAbort = true;
        stop();
      }, ABORTED_EXIT_GRACE_MS);
    }
  };
  const { child, exited, stderr } = spawnLogged(mpirun, args, spawnOptions, { ...ctx, onOutput });

  let killTimer: NodeJS.Timeout | undefined;
  // mpirun puts each rank in a process group of its own, and may exit on TERM before its ranks
  // are gone: they are found as its children while they still are, and ended directly.
  let ranks: number[] = [];
  const stop = () => {
    if (child.pid === undefined) return;
    ranks = childrenOf(child.pid);
    signalAll([-child.pid, ...ranks], 'SIGTERM');
    killTimer ??= setTimeout(() => signalAll([-child.pid!, ...ranks], 'SIGKILL'), KILL_GRACE_MS);
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    const exit = await exited;
    await untilGone(ranks);
    if (ctx.signal.aborted || (exit.code === 0 && !hungAfterAbort)) return;
    const how = hungAfterAbort
      ? `aborted its job and did not exit within ${ABORTED_EXIT_GRACE_MS / 1000} s (ended)`
      : exit.signal
        ? `was killed by ${exit.signal}`
        : exit.code === null
          ? `could not be started (${mpirun})`
          : `exited with code ${exit.code}`;
    const own = stderr.filter((l) => l.startsWith(program));
    const why = own.length ? own.join(' / ') : lastNotice(stderr);
    throw new BenchRunError(`${what} ${how}${why ? `: ${why}` : ''}`);
  } finally {
    clearTimeout(abortedTimer);
    clearTimeout(killTimer);
    ctx.signal.removeEventListener('abort', stop);
    rmSync(session, { recursive: true, force: true });
  }
}

/** Resolves when none of `pids` is alive (they are not this process's children: polled), killing them after the grace. */
async function untilGone(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + KILL_GRACE_MS;
  for (let left = pids.filter(isAlive); left.length; left = left.filter(isAlive)) {
    if (Date.now() > deadline) signalAll(left, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}
