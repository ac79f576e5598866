import { performance } from 'node:perf_hooks';
import { BenchRunError, interrupted } from './errors.js';
import { GateServer, type GateChannel } from './gate-server.js';
import type { BenchOptions } from './options.js';
import { prepareOmpi, type OmpiProgram } from './ompi-program.js';
import { buildPhases } from './plan.js';
import type { ProgressDisplay } from './progress.js';
import type { RunContext } from './run-context.js';
import { runOmpi } from './run-ompi.js';
import { runRaw } from './run-raw.js';
import { runSwitchyard } from './run-switchyard.js';
import { formatSize } from './sizes.js';
import { phaseValue } from './stats.js';
import { shortName, transportName } from './transport-names.js';
import type { Phase, ProgressMode, Transport, TransportRun } from './types.js';
import { FIRST_WARMUP_MS, WarmUp, WARMUP_MS } from './warm-up.js';

/** A run that takes longer than this to start, or to run one step at scale 1, is stopped as hung. */
const STALL_MS = 120_000;
/** A run still there this long after it was told to end is ended (mpirun can hang at job end). */
const END_GRACE_MS = 15_000;

export interface BenchEnvironment {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly display: ProgressDisplay;
  /** Aborted, with the signal's name as reason, to stop the bench. */
  readonly signal: AbortSignal;
}

/** One transport's run in one mode: its processes, its gate channel, what it measured. */
export interface Session {
  readonly transport: Transport;
  readonly name: string;
  readonly channel: GateChannel;
  readonly result: TransportRun;
  /** Settles when its processes are gone; rejects if they failed or ended before `end()`. */
  readonly exited: Promise<void>;
  /** Tells its processes that the bench is done with them. */
  end(): void;
  /**
   * Aborted when an Open MPI baseline failed after it started (`result.failed` says why): the
   * others go on without it, and a step it was running ends at once.
   */
  readonly leftSignal?: AbortSignal;
}

/** Whether the session was left out of the rest of its mode. */
const isLeft = (session: Session): boolean => session.leftSignal?.aborted === true;

/** Thrown inside a mode when it is being stopped; the real cause is reported instead. */
class Stopped extends Error {}

/**
 * Runs the whole bench. For each progress mode, every transport's run (a 2-rank Switchyard job
 * per BTL, a raw Node pair per --raw socket and, with --ompi, an mpirun job per Open MPI BTL) is started at
 * once and, once all are up, they take turns batch by batch, so the batches compared were timed
 * within the same second or so, in the same state of this noisy machine; runs not on turn sleep
 * (in epoll; Open MPI's ranks in a read of the gate). A BTL that cannot start fails the bench
 * before anything is measured. Rejects with BenchRunError when a run fails (after every
 * process is gone), BenchInterrupted when stopped by a signal.
 */
export async function runBench(options: BenchOptions, env: BenchEnvironment): Promise<TransportRun[]> {
  const phases = buildPhases(options.benchmarks, options.sizes, options.iterationsScale);
  const transports: Transport[] = [
    ...options.btls.map((btl): Transport => ({ kind: 'switchyard', btl })),
    ...options.raw.map((socket): Transport => ({ kind: 'raw', socket })),
    ...options.ompi.map((btl): Transport => ({ kind: 'ompi', btl })),
  ];
  // Compiled before anything starts: a machine without Open MPI fails here, naming what is missing.
  if (options.ompi.length) env.display.phase('compiling the Open MPI baseline (mpicc)');
  const ompi = options.ompi.length ? await prepareOmpi(env.env, env.signal).catch((err: unknown) => {
    throw interrupted(env.signal) ?? err;
  }) : undefined;
  try {
    return await runTransports(transports, phases, options, env, ompi);
  } finally {
    ompi?.dispose();
  }
}

/** What every run of a measurement shares: the user's parameters, the iteration scale, the modes. */
export type RunSettings = Pick<BenchOptions, 'mca' | 'iterationsScale' | 'modes' | 'bindTo'>;

/**
 * Measures `transports` in each mode, started together and taking turns batch by batch (see
 * runBench). Other benches use it to compare variants of a run (`switchyard bench failover`).
 */
export async function runTransports(
  transports: readonly Transport[],
  phases: readonly Phase[],
  settings: RunSettings,
  env: BenchEnvironment,
  ompi?: OmpiProgram,
): Promise<TransportRun[]> {
  const gate = await GateServer.start();
  try {
    const runs: TransportRun[] = [];
    for (const mode of settings.modes) runs.push(...(await runMode(mode, transports, phases, settings, env, gate, ompi)));
    return runs;
  } finally {
    env.display.clear();
    await gate.close();
  }
}

async function runMode(
  mode: ProgressMode,
  transports: readonly Transport[],
  phases: readonly Phase[],
  options: RunSettings,
  env: BenchEnvironment,
  gate: GateServer,
  ompi: OmpiProgram | undefined,
): Promise<TransportRun[]> {
  const stop = new AbortController();
  const signal = AbortSignal.any([env.signal, stop.signal]);
  let failure: Error | undefined;
  const fail = (err: unknown) => {
    if (!(err instanceof Stopped)) failure ??= err as Error;
    stop.abort();
  };
  let started = false;

  const turns: Turns = {
    mode,
    display: env.display,
    signal,
    timeoutMs: STALL_MS * Math.max(1, options.iterationsScale),
    phases: phases.length,
  };
  const ctx: RunContext = { cwd: env.cwd, env: env.env, signal, onOutput: (line) => env.display.log(line) };
  const sessions = transports.map((transport, i): Session => {
    const id = `${mode}-${i}`;
    const name = transportName(transport);
    const plan = { phases, gate: { path: gate.path, session: id } };
    const channel = gate.channel(id);
    let ending = false;
    const own = new AbortController();
    const runCtx: RunContext = { ...ctx, signal: AbortSignal.any([signal, own.signal]) };
    const ran =
      transport.kind === 'raw'
        ? runRaw(transport.socket, mode, plan, options.bindTo, runCtx)
        : transport.kind === 'ompi'
          ? runOmpi(transport.btl, plan, ompi!, turns.timeoutMs, options.bindTo, runCtx)
          : runSwitchyard(transport.btl, mode, plan, [...options.mca, ...(transport.variant?.mca ?? [])], options.bindTo, runCtx);
    const exited = ran.then(() => {
      if (!ending && !signal.aborted) throw new BenchRunError(`${name} (${mode}) ended before the bench was done with it`);
    });
    const leave = new AbortController();
    exited.catch((err: unknown) => {
      // An Open MPI baseline that fails once measuring began (Open MPI 4's mpirun aborts a job
      // now and then) costs its own columns, not everyone's: the rest of the run goes on.
      if (transport.kind !== 'ompi' || !started || ending || signal.aborted) return fail(err);
      session.result.failed = (err as Error).message;
      env.display.log(`switchyard bench: ${name} (${mode}) failed; the run goes on without it: ${session.result.failed}`);
      leave.abort();
    });
    const end = () => {
      ending = true;
      channel.send({ end: true });
      // Its measurements are in: one that hangs on the way out is ended, not waited for.
      const timer = setTimeout(() => {
        env.display.log(`switchyard bench: ${name} (${mode}) was still running ${END_GRACE_MS / 1000} s after its end; ending it`);
        own.abort();
      }, END_GRACE_MS);
      void exited.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    };
    const session: Session = {
      transport,
      name,
      channel,
      result: { transport: name, mode, latency: [], bandwidth: [] },
      exited,
      end,
      leftSignal: leave.signal,
    };
    return session;
  });

  try {
    env.display.phase(`${mode}: starting ${sessions.map((s) => s.name).join(', ')}`);
    await guard(signal, STALL_MS, `${sessions.map((s) => s.name).join(', ')} (${mode}) did not start`, (done) => {
      void Promise.all(sessions.map((s) => s.channel.ready())).then(() => done());
    });
    started = true;
    for (const s of sessions) {
      const cores = s.channel.cores();
      if (cores) s.result.cores = cores;
    }
    env.display.phase(`${mode}: a primer, one warm-up step of each of the ${phases.length} phases (benchmark and size)`);
    await prime(sessions, phases, turns);
    for (let index = 0; index < phases.length; index++) {
      const phase = phases[index]!;
      env.display.phase(`${mode} ${phase.benchmark} ${formatSize(phase.size)} (${index + 1} of ${phases.length})`);
      const batchMs = sessions.map((): number[] => []);
      await warmUp(sessions, index, phase, turns, index === 0 ? FIRST_WARMUP_MS : WARMUP_MS);
      // Turns batch by batch, the first of each step changing from step to step.
      for (let step = 1; step <= phase.batches; step++) {
        for (let k = 0; k < sessions.length; k++) {
          const i = (step + k) % sessions.length;
          const ms = await runStep(sessions[i]!, index, phase, step, turns);
          if (ms !== undefined) batchMs[i]!.push(ms);
        }
      }
      sessions.forEach((s, i) => !isLeft(s) && record(s.result, phase, batchMs[i]!));
    }
    const running = sessions.filter((s) => !isLeft(s));
    running.forEach((s) => s.end());
    // A baseline failing from here on is left out as above, not the bench's failure.
    await Promise.all(running.map((s) => (s.transport.kind === 'ompi' ? s.exited.catch(() => {}) : s.exited)));
  } catch (err) {
    fail(err);
  } finally {
    // Nothing returns or throws from here while a process of this mode is still running.
    await Promise.allSettled(sessions.map((s) => s.exited));
  }
  const stopped = interrupted(env.signal);
  if (stopped) throw stopped;
  if (failure) throw failure;
  return sessions.map((s) => s.result);
}

/** What every step of a mode shares. */
export interface Turns {
  readonly mode: ProgressMode;
  readonly display: ProgressDisplay;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly phases: number;
}

/**
 * A phase's warm-up step, repeated in turns until every run has warmed up on its own clock (see
 * WarmUp): at least 10 steps (as many iterations as the timed batches), `ms` of its own time
 * and WARMUP_MESSAGES messages, then until its steps stop getting faster. A run's first seconds
 * are its JIT compiling (on threads that take the cores the ranks spin on), and a new size takes
 * new paths (the first non-empty message copies a payload, the first rendezvous registers
 * memory) that both ranks compile again. A run that is warm waits in epoll while the others go on.
 */
export async function warmUp(sessions: readonly Session[], index: number, phase: Phase, turns: Turns, ms: number): Promise<void> {
  const perStep = phase.benchmark === 'latency' ? phase.warmup : phase.warmup * phase.window;
  const warm = sessions.map(() => new WarmUp(ms, perStep));
  const waiting = (i: number) => !warm[i]!.done && !isLeft(sessions[i]!);
  while (sessions.some((_, i) => waiting(i))) {
    for (let i = 0; i < sessions.length; i++) {
      if (!waiting(i)) continue;
      const start = performance.now();
      const stepMs = await runStep(sessions[i]!, index, phase, 0, turns);
      if (stepMs !== undefined) warm[i]!.record(stepMs, performance.now() - start);
    }
  }
}

/**
 * One warm-up step of every phase, in order, on every run, before any is measured. V8 compiles
 * the message path for the kinds of message it has seen; a size that brings a new kind (the
 * first non-empty payload, the first rendezvous) deoptimizes and recompiles it, and that size
 * was measured while it happened: 1 B after 0 B came out 2-4 times its neighbours for every
 * Switchyard transport, and the first rendezvous size too. An application that sends several
 * sizes is in the primed state, not the other.
 */
async function prime(sessions: readonly Session[], phases: readonly Phase[], turns: Turns): Promise<void> {
  for (let index = 0; index < phases.length; index++) {
    for (const session of sessions) await runStep(session, index, phases[index]!, 0, turns);
  }
}

/**
 * Runs one step of phase `index` on one session and resolves with how long it took (step 0:
 * warm-up), or undefined when the session is left out (before or during the step).
 */
async function runStep(session: Session, index: number, phase: Phase, step: number, turns: Turns): Promise<number | undefined> {
  if (isLeft(session)) return undefined;
  const { mode } = turns;
  const what = `[${index + 1}/${turns.phases}] ${phase.benchmark} ${shortName(session.transport)} ${mode} ${formatSize(phase.size)}`;
  turns.display.status(`${what} (${step === 0 ? 'warm-up' : `${step}/${phase.batches}`})`);
  let ms = 0;
  const signal = session.leftSignal ? AbortSignal.any([turns.signal, session.leftSignal]) : turns.signal;
  return guard(
    signal,
    turns.timeoutMs,
    `${session.name} (${mode}) stalled in ${phase.benchmark} ${formatSize(phase.size)}`,
    (done) => {
      session.channel.onReport((report) => {
        if (report.phase !== index || report.step !== step)
          return done(new BenchRunError(`${session.name} reported step ${report.step} of phase ${report.phase}, not ${step} of ${index}`));
        ms = report.ms;
        done();
      });
      session.channel.send({ go: index, step });
    },
  ).then(
    () => ms,
    (err: unknown) => {
      if (isLeft(session) && !turns.signal.aborted) return undefined;
      throw err;
    },
  );
}

function record(run: TransportRun, phase: Phase, batchMs: readonly number[]): void {
  const value = phaseValue(phase, batchMs);
  if (phase.benchmark === 'latency') run.latency.push({ size: phase.size, usec: value });
  else run.bandwidth.push({ size: phase.size, mbps: value });
}

/**
 * A wait that `start` ends by calling `done` (with an error to fail it); fails when it takes
 * longer than `timeoutMs` or when `signal` aborts, and leaves nothing pending behind.
 */
function guard(
  signal: AbortSignal,
  timeoutMs: number,
  timeoutMessage: string,
  start: (done: (err?: Error) => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new Stopped());
    const timer = setTimeout(
      () => finish(new BenchRunError(`${timeoutMessage}: nothing for ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    if (signal.aborted) return finish(new Stopped());
    signal.addEventListener('abort', onAbort);
    try {
      start(finish);
    } catch (err) {
      finish(err as Error);
    }
  });
}
