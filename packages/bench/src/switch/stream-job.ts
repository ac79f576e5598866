/**
 * The all-to-all stream of the switch and failover benches: an N-rank job of the rank program
 * (numbered messages, every arrival checked and timed), the control coordinator installed in this
 * process as `switchyard run` does, and a driver that disturbs the job (verbs, faults) and
 * records the windows it did so in; then the ranks are told to stop (the stop file, with every
 * window) and their reports collected.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchJob, type JobResult, type RunningJob } from '@switchyard/runtime';
import { installCoordinator, type Coordinator } from '@switchyard/control';
import { BenchInterrupted, BenchRunError } from '../errors.js';
import { lineSink } from '../lines.js';
import type { BenchEnvironment } from '../run-bench.js';
import { bucketWidth } from './flow.js';
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
  type VerbWindow,
} from './plan.js';
import { VerbProbe } from './probe.js';
import { rankProgram } from './program.js';
import { benchTempDir } from '../temp-dirs.js';

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

/** Where the job runs, where progress goes, and the signal that stops the bench. */
export type StreamEnvironment = BenchEnvironment;

export interface StreamJobOptions {
  readonly np: number;
  readonly mca: ReadonlyArray<readonly [string, string]>;
  /** How the launcher and the bench name this job in their lines. */
  readonly logPrefix: string;
  /** What the progress lines call this job, when a bench runs several. */
  readonly label?: string;
}

/** What a driver gets: the running job, and the means to disturb it. */
export interface StreamDriverContext {
  readonly coordinator: Coordinator;
  readonly probe: VerbProbe;
  /** The ranks' process ids, by rank. */
  readonly pids: readonly number[];
  /** Aborted when the run is being stopped (a signal, or the job ended early). */
  readonly signal: AbortSignal;
}

/** What a driver did: its windows (in time order), how many kinds of them, and why it stopped early. */
export interface DriverOutcome {
  readonly windows: readonly VerbWindow[];
  /** The per-kind arrays of the ranks' reports (`perVerb`) have this length. */
  readonly kinds: number;
  /** Why the driver stopped early (a verb refused, a fault that could not be injected). */
  readonly failure?: string;
}

export interface StreamRun {
  readonly order: StopOrder;
  /** Sorted by rank; every rank's when the run completed. */
  readonly ranks: readonly RankReport[];
  /** Why the driver stopped early; the rest was still measured. */
  readonly failure?: string;
}

/** Thrown inside the run when it is being stopped (a signal, or the job ended early). */
export class Stopped extends Error {}

/**
 * Resolves with what was measured, once every process it started is gone (whatever happens).
 * Rejects with BenchRunError when the job could not run to the end (a rank failed, the ranks did
 * not start or stop in time), BenchInterrupted when `env.signal` stopped it. A driver that
 * stops early (`failure`) ends the run but does not fail it; one that throws Stopped is stopped.
 */
export async function runStreamJob(
  options: StreamJobOptions,
  env: StreamEnvironment,
  drive: (ctx: StreamDriverContext) => Promise<DriverOutcome>,
): Promise<StreamRun> {
  const { logPrefix } = options;
  const script = rankProgram();
  const dir = benchTempDir('stream');
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
      env.display.log(
        `${logPrefix}: rank ${stall.rank} has received nothing for ${(stall.silentMs / 1000).toFixed(1)} s (round ${stall.round}; from ` +
          `each rank so far: ${stall.received.join(' ')})`,
      );
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
    stderr: lineSink((line) => void (line.startsWith(`${logPrefix}: `) || env.display.log(line))),
    signal: AbortSignal.any([env.signal, cancel.signal]),
    handleSignals: false,
    killGraceMs: KILL_GRACE_MS,
    logPrefix,
    onReady: (running) => {
      job = running;
      // What the coordinator does by itself (a failed transport reloaded) is progress too.
      coordinator = installCoordinator(probe.wrap(running), { log: (line) => env.display.log(line) });
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

  let failure: string | undefined;
  let order: StopOrder | undefined;
  try {
    env.display.phase(`${options.label ? `${options.label}: ` : ''}starting ${options.np} ranks`);
    await until(
      () => ready.size === options.np,
      START_TIMEOUT_MS,
      () =>
        `the ranks did not start within ${START_TIMEOUT_MS / 1000} s (ready: ` +
          `${[...ready.keys()].sort((a, b) => a - b).join(', ') || 'none'})`,
    );
    await sleep(WARMUP_MS, undefined, { signal });
    const spanStart = epochNow();
    const pids = Array.from({ length: options.np }, (_, r) => ready.get(r)!.pid);
    const outcome = await drive({ coordinator: coordinator!, probe, pids, signal });
    if (signal.aborted) throw new Stopped();
    failure = outcome.failure;
    const spanEnd = epochNow();

    order = {
      span: [spanStart, spanEnd],
      verbs: outcome.kinds,
      windows: outcome.windows,
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
        const stalled = [...stalls.values()].map(
          (s) => `rank ${s.rank} waits in round ${s.round} (received from each rank: ${s.received.join(' ')})`,
        );
        return `rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not stop and report within ${STOP_TIMEOUT_MS / 1000} ` +
          `s${stalled.length ? `: ${stalled.join('; ')}` : ''}`;
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
    else if (!(err instanceof Stopped) && !(err instanceof Error && err.name === 'AbortError'))
      abortJob(`the bench failed: ${(err as Error).message}`);
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
  const after = failure ? ` (after ${failure})` : '';
  if (abortReason) throw new BenchRunError(`${abortReason}${after}`);
  if (result.exitCode !== 0 || reports.size !== options.np || !order) {
    throw new BenchRunError(`the job failed: ${result.abortReason ?? `exit code ${result.exitCode}`}${after}`);
  }
  return {
    order,
    ranks: [...reports.values()].sort((a, b) => a.rank - b.rank),
    ...(failure ? { failure } : {}),
  };
}
