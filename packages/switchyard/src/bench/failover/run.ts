/**
 * Runs `switchyard bench failover`: per fault kind, the all-to-all stream job with the kind's
 * transports, faults injected from outside it at intervals (each followed by the verbs that
 * bring the transport back, where it does not come back by itself); then the steady-state cost
 * of the protection (see cost.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeVerb } from '../../control/protocol.js';
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
/** How long the job gets to be ready for the next fault (its tcp links back) before the run gives up. */
const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 100;

/** A verb that brought the faulted transport back. */
export interface RecoveryVerb {
  readonly verb: string;
  readonly ms: number;
  readonly outcome: 'done' | 'refused' | 'failed';
}

export interface FaultRecord {
  /** Epoch ms the fault was set off, and the end of its window. */
  readonly at: number;
  readonly windowEnd: number;
  readonly what: string;
  readonly count: number;
  readonly recovery: readonly RecoveryVerb[];
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
      return injectFaults(name, injector, options, env, ctx.pids, ctx.signal, faults, (verb) => ctx.coordinator.run(verb));
    });
    return { kind: name, mca, faults, order: run.order, ranks: run.ranks, ...(run.failure ? { error: run.failure } : {}) };
  } catch (err) {
    if (!(err instanceof BenchRunError)) throw err;
    return { kind: name, mca, faults, error: err.message };
  }
}

/** The driver of a kind's job: the faults, each with its window and its recovery verbs. */
async function injectFaults(
  name: FaultKindName,
  injector: Injector,
  options: FailoverOptions,
  env: StreamEnvironment,
  pids: readonly number[],
  signal: AbortSignal,
  faults: FaultRecord[],
  runVerb: (verb: Injector['recovery'][number]) => Promise<{ ok: boolean; outcome: RecoveryVerb['outcome']; errors: ReadonlyArray<{ message: string }> }>,
): Promise<{ windows: VerbWindow[]; kinds: number; failure?: string }> {
  const windows: VerbWindow[] = [];
  const done = (failure?: string) => ({ windows, kinds: 1, ...(failure ? { failure } : {}) });
  let next = epochNow() + options.intervalMs;
  for (let i = 0; i < options.faults; i++) {
    env.display.status(`${name}: fault ${i + 1}/${options.faults}`);
    await sleep(Math.max(0, next - epochNow()), undefined, { signal });
    if (injector.ready) {
      const deadline = epochNow() + READY_TIMEOUT_MS;
      while (!(await injector.ready(pids))) {
        if (epochNow() > deadline) return done(`fault ${i + 1}: the job had no tcp connection between its ranks to reset ${READY_TIMEOUT_MS / 1000} s after the last fault`);
        await sleep(READY_POLL_MS, undefined, { signal });
      }
    }
    const injected = await injector.inject(pids, i);
    if (signal.aborted) throw new Stopped();
    if (injected.count === 0) return done(`fault ${i + 1}: nothing to fault (${injected.what})`);
    next = injected.at + options.intervalMs;
    await sleep(Math.max(0, injected.at + OBSERVE_MS - epochNow()), undefined, { signal });
    const windowEnd = epochNow();
    windows.push({ verb: 0, cycle: i + 1, start: injected.at, end: windowEnd });

    const recovery: RecoveryVerb[] = [];
    faults.push({ at: injected.at, windowEnd, what: injected.what, count: injected.count, recovery });
    for (const verb of injector.recovery) {
      const start = epochNow();
      const result = await runVerb(verb);
      if (signal.aborted) throw new Stopped();
      recovery.push({ verb: describeVerb(verb), ms: epochNow() - start, outcome: result.outcome });
      if (!result.ok) return done(`fault ${i + 1}: '${describeVerb(verb)}' ${result.outcome === 'refused' ? 'was refused' : 'failed'}: ${result.errors.map((e) => e.message).join('; ') || 'no reason given'}`);
    }
    const verbs = recovery.map((r) => `, ${r.verb} ${r.ms.toFixed(1)} ms`).join('');
    env.display.phase(`${name}: fault ${i + 1}/${options.faults}: ${injected.what}${verbs}`);
  }
  await sleep(Math.max(0, next - epochNow()), undefined, { signal });
  return done();
}

export type { CostRun };
