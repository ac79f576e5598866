/**
 * Runs the switch bench: an N-rank job of the rank program (all-to-all numbered messages), the
 * control coordinator installed in this process as `switchyard run` does, and the verbs driven
 * through it cycle after cycle with traffic-only gaps between them; then the ranks are told to
 * stop (the stop file, with every verb's window) and their reports collected.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchJob, type JobResult, type RunningJob } from '@switchyard/runtime';
import { installCoordinator, type Coordinator } from '../../control/coordinator.js';
import { describeVerb, type VerbResult } from '../../control/protocol.js';
import { BenchInterrupted, BenchRunError } from '../errors.js';
import { lineSink } from '../lines.js';
import type { ProgressDisplay } from '../progress.js';
import { bucketWidth } from './flow.js';
import type { SwitchOptions } from './options.js';
import {
  encodeRankPlan,
  epochNow,
  parsePrefixed,
  READY_PREFIX,
  REPORT_PREFIX,
  STALL_PREFIX,
  type RankReport,
  type ReadyLine,
  type StallLine,
  type StopOrder,
  type TrafficShape,
} from './plan.js';
import { VerbProbe } from './probe.js';
import { rankProgram } from './program.js';
import type { VerbRun } from './summary.js';

export const TRAFFIC: TrafficShape = {
  smallMin: 32,
  smallMax: 1024,
  rndvSize: 128 * 1024,
  rndvEvery: 16,
  checkEvery: 8,
};

/** Traffic before the measured span starts (connections warm, code compiled). */
const WARMUP_MS = 500;
/** How long the ranks get to start and join the job. */
const START_TIMEOUT_MS = 120_000;
/** How long the ranks get to stop and report once told to. */
const STOP_TIMEOUT_MS = 30_000;
/** A rank whose flow stops this long says so (BENCH-STALL). */
const STALL_MS = 5_000;
/** Milliseconds ranks get between SIGTERM and SIGKILL when the job is stopped. */
const KILL_GRACE_MS = 1000;
export const LOG_PREFIX = 'switchyard bench switch';

export interface SwitchEnvironment {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly display: ProgressDisplay;
  /** Aborted, with the signal's name as reason, to stop the bench. */
  readonly signal: AbortSignal;
}

export interface SwitchRun {
  readonly runs: readonly VerbRun[];
  readonly order: StopOrder;
  /** Sorted by rank; every rank's when the run completed. */
  readonly ranks: readonly RankReport[];
  /** Why the run is not complete (a verb refused or failed); the rest was still measured. */
  readonly verbFailure?: string;
}

/** Thrown inside the run when it is being stopped (a signal, or the job ended early). */
class Stopped extends Error {}

/**
 * Resolves with what was measured, once every process it started is gone (whatever happens).
 * Rejects with BenchRunError when the job could not run to the end (a rank failed, the ranks did
 * not start or stop in time), BenchInterrupted when `env.signal` stopped it. A verb that was
 * refused or failed ends the cycles early but not the run: see `verbFailure`.
 */
export async function runSwitchBench(options: SwitchOptions, env: SwitchEnvironment): Promise<SwitchRun> {
  const script = rankProgram();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-switch-'));
  const stopFile = join(dir, 'stop.json');
  const ready = new Map<number, ReadyLine>();
  const reports = new Map<number, RankReport>();
  const stalls = new Map<number, StallLine>();
  const waiters = new Set<() => void>();
  const changed = () => [...waiters].forEach((w) => w());

  // `halt` stops the bench's own waits when the job ends early or the bench is interrupted.
  const halt = new AbortController();
  const signal = AbortSignal.any([env.signal, halt.signal]);
  // Cancels the launch itself, should the bench fail before the launcher handed out the job.
  const cancel = new AbortController();
  let job: RunningJob | undefined;
  let coordinator: Coordinator | undefined;
  const probe = new VerbProbe();
  let ended: JobResult | undefined;
  let abortReason: string | undefined;

  const onStdout = (line: string) => {
    const report = parsePrefixed<RankReport>(line, REPORT_PREFIX);
    if (report) return void (reports.set(report.rank, report), changed());
    const r = parsePrefixed<ReadyLine>(line, READY_PREFIX);
    if (r) return void (ready.set(r.rank, r), changed());
    const stall = parsePrefixed<StallLine>(line, STALL_PREFIX);
    if (stall) {
      stalls.set(stall.rank, stall);
      env.display.log(`${LOG_PREFIX}: rank ${stall.rank} has received nothing for ${(stall.silentMs / 1000).toFixed(1)} s (round ${stall.round}; from each rank so far: ${stall.received.join(' ')})`);
      return;
    }
    env.display.log(line);
  };

  const finished = launchJob({
    np: options.np,
    script,
    args: [encodeRankPlan({ traffic: TRAFFIC, stopFile, stallMs: STALL_MS })],
    cwd: env.cwd,
    env: env.env,
    mca: options.mca,
    tagOutput: false,
    stdout: lineSink(onStdout),
    // The launcher's own lines say why it aborted: the error thrown below says it once.
    stderr: lineSink((line) => void (line.startsWith(`${LOG_PREFIX}: `) || env.display.log(line))),
    signal: AbortSignal.any([env.signal, cancel.signal]),
    handleSignals: false,
    killGraceMs: KILL_GRACE_MS,
    logPrefix: LOG_PREFIX,
    onReady: (running) => {
      job = running;
      coordinator = installCoordinator(probe.wrap(running));
    },
  }).then((result) => {
    ended = result;
    halt.abort();
    changed();
    return result;
  });

  /** Resolves once `condition` holds; rejects (Stopped) when the run is halted, or on timeout. */
  const until = (condition: () => boolean, timeoutMs: number, onTimeout: () => string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (condition()) done();
        else if (signal.aborted) done(new Stopped());
      };
      const done = (err?: Error) => {
        waiters.delete(check);
        clearTimeout(timer);
        signal.removeEventListener('abort', check);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new BenchRunError(onTimeout())), timeoutMs);
      waiters.add(check);
      signal.addEventListener('abort', check);
      check();
    });

  /** Stops the job for `reason` (the ranks are ended); the run fails with it. */
  const abortJob = (reason: string) => {
    abortReason ??= reason;
    if (ended) return;
    if (job) job.abort(reason, 1);
    else cancel.abort();
  };

  const runs: VerbRun[] = [];
  let verbFailure: string | undefined;
  let order: StopOrder | undefined;
  try {
    env.display.phase(`starting ${options.np} ranks`);
    await until(
      () => ready.size === options.np,
      START_TIMEOUT_MS,
      () => `the ranks did not start within ${START_TIMEOUT_MS / 1000} s (ready: ${[...ready.keys()].sort((a, b) => a - b).join(', ') || 'none'})`,
    );
    env.display.phase(`${options.np} ranks streaming; ${options.cycles} cycles of ${options.verbs.length} verbs`);
    await sleep(WARMUP_MS, undefined, { signal });
    const spanStart = epochNow();

    const labels = options.verbs.map((v) => describeVerb(v));
    cycles: for (let cycle = 1; cycle <= options.cycles; cycle++) {
      const times: string[] = [];
      for (let index = 0; index < options.verbs.length; index++) {
        const label = labels[index]!;
        env.display.status(`cycle ${cycle}/${options.cycles}: ${label}`);
        await sleep(options.gapMs, undefined, { signal });
        const phases = probe.begin();
        const start = epochNow();
        const result: VerbResult = await coordinator!.run(options.verbs[index]);
        const end = epochNow();
        probe.end();
        if (signal.aborted) throw new Stopped();
        const errors = result.errors.map((e) => (e.rank !== undefined && !e.message.startsWith('rank') ? `rank ${e.rank}: ${e.message}` : e.message));
        runs.push({ index, cycle, verb: label, start, end, ms: end - start, coordinatorMs: result.ms, outcome: result.outcome, errors, ...phases });
        times.push(`${label} ${(end - start).toFixed(1)} ms`);
        if (!result.ok) {
          verbFailure = `cycle ${cycle}: '${label}' ${result.outcome === 'refused' ? 'was refused' : 'failed'}: ${errors.join('; ') || 'no reason given'}`;
          break cycles;
        }
      }
      env.display.phase(`cycle ${cycle}/${options.cycles}: ${times.join(', ')}`);
    }
    await sleep(options.gapMs, undefined, { signal });
    const spanEnd = epochNow();

    order = {
      span: [spanStart, spanEnd],
      verbs: options.verbs.length,
      windows: runs.map((r) => ({ verb: r.index, cycle: r.cycle, start: r.start, end: r.end })),
      bucketMs: bucketWidth(spanEnd - spanStart),
    };
    // Complete before it appears: a rank that sees the file reads all of it.
    writeFileSync(`${stopFile}.tmp`, JSON.stringify(order));
    renameSync(`${stopFile}.tmp`, stopFile);
    env.display.phase('stopping the ranks');
    await until(
      () => reports.size === options.np,
      STOP_TIMEOUT_MS,
      () => {
        const missing = Array.from({ length: options.np }, (_, r) => r).filter((r) => !reports.has(r));
        const stalled = [...stalls.values()].map((s) => `rank ${s.rank} waits in round ${s.round} (received from each rank: ${s.received.join(' ')})`);
        return `rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not stop and report within ${STOP_TIMEOUT_MS / 1000} s${stalled.length ? `: ${stalled.join('; ')}` : ''}`;
      },
    ).catch((err: unknown) => {
      // The job's exit says what happened when it ended first; otherwise the timeout does.
      if (err instanceof Stopped && ended) return;
      throw err;
    });
    await until(
      () => ended !== undefined,
      STOP_TIMEOUT_MS,
      () => `the ranks reported but did not exit within ${STOP_TIMEOUT_MS / 1000} s`,
    );
  } catch (err) {
    if (err instanceof BenchRunError) abortJob(err.message);
    else if (!(err instanceof Stopped) && !(err instanceof Error && err.name === 'AbortError')) abortJob(`the bench failed: ${(err as Error).message}`);
  } finally {
    // Nothing returns or throws from here while a process of the job is still running.
    try {
      await finished;
    } finally {
      coordinator?.uninstall();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const result = ended!;
  if (env.signal.aborted) {
    const name = String(env.signal.reason) as NodeJS.Signals;
    throw new BenchInterrupted(name, 128 + (constants.signals[name] ?? constants.signals.SIGINT));
  }
  const after = verbFailure ? ` (after ${verbFailure})` : '';
  if (abortReason) throw new BenchRunError(`${abortReason}${after}`);
  if (result.exitCode !== 0 || reports.size !== options.np || !order) {
    throw new BenchRunError(`the job failed: ${result.abortReason ?? `exit code ${result.exitCode}`}${after}`);
  }
  return {
    runs,
    order,
    ranks: [...reports.values()].sort((a, b) => a.rank - b.rank),
    ...(verbFailure ? { verbFailure } : {}),
  };
}
