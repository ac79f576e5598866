/**
 * Runs `switchyard bench failover`: per fault kind, the all-to-all stream job with the kind's
 * transports, faults injected from outside it at intervals, each time waiting for the job to
 * bring the faulted transport back by itself (tcp probed back or reconnected, openib reloaded by
 * its rank); then the steady-state cost of the protection (see cost.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CtlStatus, isRankStatusFailure } from '@switchyard/control';
import { BenchRunError } from '../errors.js';
import { epochNow, type RankReport, type StopOrder, type VerbWindow } from '../switch/plan.js';
import { runStreamJob, Stopped, type StreamEnvironment } from '../switch/stream-job.js';
import { measureCost, type CostRun } from './cost.js';
import { FAULT_KINDS, type FaultKindName, type Injector } from './kinds.js';
import type { FailoverOptions } from './options.js';

export const LOG_PREFIX = 'switchyard bench failover';
/**
 * A fault's window: from the fault to this much after it. The pause it causes is the longest
 * that overlaps the window (connections die at once, so the flow stops within it).
 */
export const OBSERVE_MS = 100;
/** How long the job gets to bring the faulted transport back before the run gives up. */
const BACK_TIMEOUT_MS = 20_000;
const BACK_POLL_MS = 100;

export interface FaultRecord {
  /** Epoch ms the fault was set off, and the end of its window. */
  readonly at: number;
  readonly windowEnd: number;
  readonly what: string;
  readonly count: number;
  /**
   * From the fault to the faulted transport carrying every link again, with no failure left
   * (the job's own recovery; polled with ctl status, so to within a poll).
   */
  readonly backMs: number;
}

export interface KindRun {
  readonly kind: FaultKindName;
  readonly mca: ReadonlyArray<readonly [string, string]>;
  /** Why the kind did not run on this machine. */
  readonly skipped?: string;
  /** Why it stopped early, or failed (the job died): what was measured until then is kept. */
  readonly error?: string;
  readonly faults: readonly FaultRecord[];
  readonly order?: StopOrder;
  readonly ranks?: readonly RankReport[];
}

export interface FailoverRun {
  readonly kinds: readonly KindRun[];
  readonly cost: CostRun;
}

export async function runFailoverBench(options: FailoverOptions, env: StreamEnvironment): Promise<FailoverRun> {
  const kinds: KindRun[] = [];
  for (const name of options.kinds) kinds.push(await runKind(name, options, env));
  const cost = await measureCost(options, env);
  return { kinds, cost };
}

async function runKind(name: FaultKindName, options: FailoverOptions, env: StreamEnvironment): Promise<KindRun> {
  const kind = FAULT_KINDS[name];
  const mca = [...kind.mca, ...options.mca];
  const injector = await kind.prepare();
  if (typeof injector === 'string') {
    env.display.phase(`${name}: skipped: ${injector}`);
    return { kind: name, mca, skipped: injector, faults: [] };
  }
  const faults: FaultRecord[] = [];
  try {
    const run = await runStreamJob({ np: options.np, mca, logPrefix: LOG_PREFIX, label: name }, env, (ctx) => {
      env.display.phase(`${name}: ${options.np} ranks streaming; ${options.faults} faults ${options.intervalMs} ms apart`);
      const carried = async () => carriedBy(await ctx.coordinator.status(), kind.carrier);
      return injectFaults(name, injector, carried, options, env, ctx.pids, ctx.signal, faults);
    });
    return { kind: name, mca, faults, order: run.order, ranks: run.ranks, ...(run.failure ? { error: run.failure } : {}) };
  } catch (err) {
    if (!(err instanceof BenchRunError)) throw err;
    return { kind: name, mca, faults, error: err.message };
  }
}

/** Every rank answered, has no failed link or module, and sends to every peer over `btl` first. */
function carriedBy(status: CtlStatus, btl: string): boolean {
  return status.ranks.every(
    (r) => !isRankStatusFailure(r) && !r.failures?.length && r.peers.every((p) => p.rank === r.rank || p.send[0]?.split(':')[0] === btl),
  );
}

/** The driver of a kind's job: the faults, each with its window, each time until the job has recovered. */
async function injectFaults(
  name: FaultKindName,
  injector: Injector,
  carried: () => Promise<boolean>,
  options: FailoverOptions,
  env: StreamEnvironment,
  pids: readonly number[],
  signal: AbortSignal,
  faults: FaultRecord[],
): Promise<{ windows: VerbWindow[]; kinds: number; failure?: string }> {
  const windows: VerbWindow[] = [];
  const done = (failure?: string) => ({ windows, kinds: 1, ...(failure ? { failure } : {}) });
  if (!(await carried())) return done(`the job did not start with ${FAULT_KINDS[name].carrier} carrying every link`);
  let next = epochNow() + options.intervalMs;
  for (let i = 0; i < options.faults; i++) {
    env.display.status(`${name}: fault ${i + 1}/${options.faults}`);
    await sleep(Math.max(0, next - epochNow()), undefined, { signal });
    const injected = await injector.inject(pids, i);
    if (signal.aborted) throw new Stopped();
    if (injected.count === 0) return done(`fault ${i + 1}: nothing to fault (${injected.what})`);
    next = injected.at + options.intervalMs;
    await sleep(Math.max(0, injected.at + OBSERVE_MS - epochNow()), undefined, { signal });
    const windowEnd = epochNow();
    windows.push({ verb: 0, cycle: i + 1, start: injected.at, end: windowEnd });

    // The job brings the transport back by itself; the next fault waits for it.
    while (!(await carried())) {
      if (epochNow() - injected.at > BACK_TIMEOUT_MS)
        return done(
          `fault ${i + 1} (${injected.what}): ${FAULT_KINDS[name].carrier} did not carry every link again within ` +
            `${BACK_TIMEOUT_MS / 1000} s`,
        );
      await sleep(BACK_POLL_MS, undefined, { signal });
    }
    const backMs = epochNow() - injected.at;
    faults.push({ at: injected.at, windowEnd, what: injected.what, count: injected.count, backMs });
    env.display.phase(
      `${name}: fault ${i + 1}/${options.faults}: ${injected.what}; ${FAULT_KINDS[name].carrier} back on every link after ` +
        `${Math.round(backMs)} ms`,
    );
    // A recovery slower than the interval still leaves some undisturbed traffic before the next fault.
    next = Math.max(next, epochNow() + OBSERVE_MS);
  }
  await sleep(Math.max(0, next - epochNow()), undefined, { signal });
  return done();
}

export type { CostRun };
