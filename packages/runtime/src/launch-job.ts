import { constants, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { ENV_HNP_URI, ENV_JOB_ID, ENV_JOB_SECRET, ENV_MCA_CLI, ENV_RANK, ENV_SIZE } from './env-names.js';
import { LaunchError } from './errors.js';
import { ExitReports } from './exit-report.js';
import { describeExit, exitCodeOf, isCleanExit } from './exit-status.js';
import { finalizeAtExitNote } from './finalize-at-exit.js';
import { createJobDir, removeJobDir, writeJobRecord } from './job-dir.js';
import { pidNamespace, processStart } from './launcher-alive.js';
import { JobController } from './job-controller.js';
import { newJobId, newJobSecret } from './job-id.js';
import type { JobResult, LaunchOptions } from './job-types.js';
import { startOobServer, type OobServer } from './oob-server.js';
import { openAllRankOutputFiles } from './output-files.js';
import { SharedOutput } from './output-forwarding.js';
import { dumpBeforeTimeout, TIMEOUT_EXIT_CODE, timeoutNotice } from './job-timeout.js';
import { allowedCpus, bindingPicture, bindProcess, planBindings } from './cpu-binding.js';
import { rankCommand } from './rank-command.js';
import { serveRankMoves } from './rank-move.js';
import { RankProcess, type RankExit } from './rank-process.js';
import { trapSignals } from './signal-traps.js';

const DEFAULT_KILL_GRACE_MS = 2000;
/** How long tool calls in progress (a `ctl` verb) get to answer once every rank has ended. */
const TOOL_CALL_GRACE_MS = 3000;

/** Ranks started between two turns of the event loop. */
const START_BATCH = 8;
/** What a Node rank takes at the least (a bare Node process with the runtime loaded is about 50 MiB). */
const RANK_MEMORY_FLOOR = 32 * 2 ** 20;

/**
 * The HNP: starts `np` ranks of a script on this machine, wires them to an OOB socket in a
 * private job folder, forwards their output and resolves with the job's exit code once every
 * rank has ended. Any failure (a rank exiting non-zero or by a signal, a rank's abort(), a
 * signal to the launcher, `options.signal`) aborts the whole job: the cause is printed, the
 * other ranks get SIGTERM then SIGKILL, and nothing is left running or on disk.
 */
export async function launchJob(options: LaunchOptions): Promise<JobResult> {
  const np = options.np;
  if (!Number.isInteger(np) || np < 1) throw new LaunchError(`the number of ranks must be a positive integer, got ${np}`);
  const seconds = options.timeoutSeconds;
  if (seconds !== undefined && !(seconds > 0 && Number.isFinite(seconds)))
    throw new LaunchError(`the time limit must be a positive number of seconds, got ${seconds}`);
  if (np * RANK_MEMORY_FLOOR > totalmem()) {
    const gib = (bytes: number) => `${Math.ceil(bytes / 2 ** 30)} GiB`;
    throw new LaunchError(
      `${np} ranks need at least ${gib(np * RANK_MEMORY_FLOOR)} of memory (a Node process takes ${RANK_MEMORY_FLOOR / 2 ** 20} MiB or ` +
        `more), and this machine has ${gib(totalmem())}: check -n`,
    );
  }
  const cwd = resolve(options.cwd);
  const script = resolve(cwd, options.script);
  const logPrefix = options.logPrefix ?? 'switchyard run';
  const log = (line: string) => void options.stderr.write(`${logPrefix}: ${line}\n`);
  // Before anything is started: a script that cannot run (TypeScript without tsx) starts nothing.
  const command = rankCommand(script, options.args, options.trust);
  const cpus = allowedCpus();
  const bindings = planBindings(np, options.bindTo, cpus);

  const jobId = newJobId();
  const secret = newJobSecret();
  const { jobDir, socketPath } = createJobDir(jobId);

  const ranks: RankProcess[] = [];
  const exitReports = new ExitReports(jobId);
  let aborted: { reason: string; exitCode: number } | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let timeLimit: NodeJS.Timeout | undefined;
  const outputs: SharedOutput[] = [];
  const killAll = (signal: NodeJS.Signals) => ranks.forEach((r) => r.kill(signal));
  const abortJob = (reason: string, exitCode: number) => {
    if (aborted) return;
    aborted = { reason, exitCode };
    log(`${reason}; aborting the job`);
    const atExit = controller.waitingInFinalizeAtExit();
    if (atExit.length) log(finalizeAtExitNote(atExit));
    killAll('SIGTERM');
    killTimer = setTimeout(() => killAll('SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };

  const controller = new JobController({
    jobId,
    jobDir,
    socketPath,
    size: np,
    log,
    abort: abortJob,
    isAborting: () => aborted !== undefined,
    abortReason: () => aborted?.reason,
  });

  let server: OobServer | undefined;
  let untrap = () => {};
  const onCancel = () => abortJob('the launch was cancelled', 130);
  try {
    server = await startOobServer({ socketPath, secret, controller, log });
    writeJobRecord({
      jobId,
      pid: process.pid,
      pidStart: processStart(process.pid),
      pidNamespace: pidNamespace(),
      np,
      script,
      args: [...options.args],
      cwd,
      startTime: new Date().toISOString(),
      socketPath,
      jobDir,
      secret,
    });

    if (options.handleSignals !== false) {
      untrap = trapSignals((signal) => {
        // A second signal while aborting means "now": skip the grace period.
        if (aborted) killAll('SIGKILL');
        else abortJob(`received ${signal}`, 128 + (constants.signals[signal] ?? 0));
      });
    }
    if (options.signal?.aborted) onCancel();
    options.signal?.addEventListener('abort', onCancel, { once: true });

    // A closed reader ends the job as SIGPIPE ends a pipeline's writer (mpirun ... | head does too).
    const broken = (which: string) => (error: NodeJS.ErrnoException) =>
      abortJob(`the launcher's ${which} was closed (${error.code ?? error.message})`, 128 + constants.signals.SIGPIPE);
    const stdout = new SharedOutput(options.stdout, broken('standard output'));
    const stderr = new SharedOutput(options.stderr, broken('standard error'));
    outputs.push(stdout, stderr);
    const baseEnv: NodeJS.ProcessEnv = {
      ...options.env,
      // CRIU cannot dump an io_uring instance: ranks stay on epoll and thread-pool I/O, so a job
      // can be saved (`switchyard ctl checkpoint save`) at any time.
      UV_USE_IO_URING: '0',
      [ENV_JOB_ID]: jobId,
      [ENV_SIZE]: String(np),
      [ENV_HNP_URI]: socketPath,
      [ENV_JOB_SECRET]: secret,
      [ENV_MCA_CLI]: JSON.stringify(options.mca.map(([k, v]) => [k, v])),
    };

    const onExit = (rank: RankProcess, exit: RankExit) => {
      const finalizeMissing = controller.connectedWithoutFinalize(rank.rank);
      controller.rankExited(rank.rank, exit);
      if (aborted) return;
      const who = `rank ${rank.rank} (pid ${rank.pid ?? 'none'})`;
      if (exit.error) abortJob(`rank ${rank.rank} could not be started: ${exit.error.message}`, 1);
      else if (exit.lost) abortJob(`${who} was lost while being moved to another host: ${exit.lost}`, 1);
      else if (!isCleanExit(exit)) abortJob(`${who} ${describeExit(exit)}`, exitCodeOf(exit));
      else if (finalizeMissing) abortJob(`${who} exited without calling finalize()`, 1);
    };

    const mergeStderr = options.mergeStderrToStdout === true;
    const outputDir = options.outputDir === undefined ? undefined : resolve(cwd, options.outputDir);
    // Every file before any rank: a folder that cannot be written starts nothing.
    const files = outputDir === undefined ? [] : openAllRankOutputFiles(outputDir, np, mergeStderr, log);
    for (let rank = 0; rank < np && !aborted; rank++) {
      // Starting a rank blocks for milliseconds: between batches, Ctrl-C and a rank that died at
      // once are seen, and stop the starting.
      if (rank > 0 && rank % START_BATCH === 0) await new Promise((r) => setImmediate(r));
      if (aborted) break;
      const proc = new RankProcess({
        rank,
        file: command.file,
        args: command.args,
        cwd,
        env: { ...baseEnv, [ENV_RANK]: String(rank) },
        stdout,
        stderr,
        tagOutput: options.tagOutput,
        mergeStderr,
        ...(files[rank] ? { files: files[rank] } : {}),
        ...(rank === 0 && options.stdin ? { stdin: options.stdin } : {}),
      });
      ranks.push(proc);
      controller.rankStarted(rank, proc.pid);
      void proc.exited.then((exit) => onExit(proc, exit));
      bindRank(proc, bindings?.[rank], cpus ?? [], options, log);
    }

    serveRankMoves({ controller, ranks, jobDir, ...(options.stdin ? { stdinRank: 0 } : {}) });
    exitReports.serve(controller);

    if (seconds !== undefined && !aborted) {
      timeLimit = setTimeout(() => {
        options.stderr.write(timeoutNotice(seconds));
        void dumpBeforeTimeout(options, log).then(() =>
          abortJob(`the job ran into its time limit of ${seconds} s (${options.timeoutFrom ?? '--timeout'})`, TIMEOUT_EXIT_CODE),
        );
      }, seconds * 1000);
    }

    if (!aborted && options.onReady) {
      try {
        options.onReady(controller);
      } catch (err) {
        log(`onReady failed: ${(err as Error).message}`);
      }
    }

    await Promise.all(ranks.map((r) => r.finished));
    const outcomes = await Promise.all(ranks.map(async (r) => ({ rank: r.rank, pid: r.pid, exit: await r.exited })));
    const result: JobResult = {
      jobId,
      exitCode: aborted?.exitCode ?? 0,
      ...(aborted ? { abortReason: aborted.reason } : {}),
      ranks: outcomes.map(({ rank, pid, exit }) => ({ rank, pid, exit: { code: exit.code, signal: exit.signal } })),
    };
    exitReports.write(result, log);
    return result;
  } finally {
    // Only reached early by an exception of our own: no rank may outlive the launcher.
    if (ranks.some((r) => r.alive)) {
      killAll('SIGKILL');
      await Promise.all(ranks.map((r) => r.exited));
    }
    clearTimeout(killTimer);
    clearTimeout(timeLimit);
    // Rank 0 is gone: stop reading the launcher's stdin, so it does not keep the launcher alive.
    options.stdin?.pause();
    untrap();
    for (const output of outputs) output.detach();
    options.signal?.removeEventListener('abort', onCancel);
    await controller.settleToolCalls(TOOL_CALL_GRACE_MS);
    await server?.close();
    removeJobDir(jobDir);
  }
}

/**
 * Binds a rank that was just started to its core. A rank left unbound still runs: a binding asked
 * for (--bind-to core) that fails is a warning, mpirun's default one that fails is silent.
 */
function bindRank(
  proc: RankProcess,
  cpu: number | undefined,
  cpus: readonly number[],
  options: LaunchOptions,
  log: (line: string) => void,
): void {
  const pid = proc.pid;
  if (pid === undefined) return;
  if (cpu === undefined) {
    if (options.reportBindings) log(`rank ${proc.rank} (pid ${pid}) not bound`);
    return;
  }
  bindProcess(pid, cpu, options.env).then(
    () => {
      if (options.reportBindings) log(`rank ${proc.rank} (pid ${pid}) bound to core ${cpu}: ${bindingPicture(cpu, cpus)}`);
    },
    (err: Error) => {
      if (options.bindTo !== 'core' && !options.reportBindings) return;
      log(`warning: rank ${proc.rank} (pid ${pid}) not bound to core ${cpu}: ${err.message}`);
    },
  );
}
