/**
 * Runs the switch bench: the all-to-all stream job, the verbs driven through the job's
 * coordinator cycle after cycle with traffic-only gaps between them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeVerb, type VerbResult } from '@switchyard/control';
import type { SwitchOptions } from './options.js';
import { epochNow, type RankReport, type StopOrder } from './plan.js';
import { runStreamJob, Stopped, type StreamEnvironment } from './stream-job.js';
import type { VerbRun } from './summary.js';

export { TRAFFIC } from './stream-job.js';
export const LOG_PREFIX = 'switchyard bench switch';

export type SwitchEnvironment = StreamEnvironment;

export interface SwitchRun {
  readonly runs: readonly VerbRun[];
  readonly order: StopOrder;
  /** Sorted by rank; every rank's when the run completed. */
  readonly ranks: readonly RankReport[];
  /** Why the run is not complete (a verb refused or failed); the rest was still measured. */
  readonly verbFailure?: string;
}

/**
 * Resolves with what was measured, once every process it started is gone (whatever happens).
 * Rejects with BenchRunError when the job could not run to the end, BenchInterrupted when
 * `env.signal` stopped it. A verb that was refused or failed ends the cycles early but not the
 * run: see `verbFailure`.
 */
export async function runSwitchBench(options: SwitchOptions, env: SwitchEnvironment): Promise<SwitchRun> {
  const runs: VerbRun[] = [];
  const run = await runStreamJob(
    { np: options.np, mca: options.mca, logPrefix: LOG_PREFIX },
    env,
    async ({ coordinator, probe, signal }) => {
      env.display.phase(`${options.np} ranks streaming; ${plural(options.cycles, 'cycle')} of ${plural(options.verbs.length, 'verb')}`);
      const labels = options.verbs.map((v) => describeVerb(v));
      let failure: string | undefined;
      cycles: for (let cycle = 1; cycle <= options.cycles; cycle++) {
        const times: string[] = [];
        for (let index = 0; index < options.verbs.length; index++) {
          const label = labels[index]!;
          env.display.status(`cycle ${cycle}/${options.cycles}: ${label}`);
          await sleep(options.gapMs, undefined, { signal });
          const phases = probe.begin();
          const start = epochNow();
          const result: VerbResult = await coordinator.run(options.verbs[index]);
          const end = epochNow();
          probe.end();
          if (signal.aborted) throw new Stopped();
          const errors = result.errors.map((e) =>
            e.rank !== undefined && !e.message.startsWith('rank') ? `rank ${e.rank}: ${e.message}` : e.message,
          );
          runs.push({
            index,
            cycle,
            verb: label,
            start,
            end,
            ms: end - start,
            coordinatorMs: result.ms,
            outcome: result.outcome,
            errors,
            ...phases,
          });
          times.push(`${label} ${(end - start).toFixed(1)} ms`);
          if (!result.ok) {
            failure = `cycle ${cycle}: '${label}' ${result.outcome === 'refused' ? 'was refused' : 'failed'}: ${errors.join('; ') || 'no ' +
              'reason given'}`;
            break cycles;
          }
        }
        env.display.phase(`cycle ${cycle}/${options.cycles}: ${times.join(', ')}`);
      }
      await sleep(options.gapMs, undefined, { signal });
      return {
        windows: runs.map((r) => ({ verb: r.index, cycle: r.cycle, start: r.start, end: r.end })),
        kinds: options.verbs.length,
        ...(failure ? { failure } : {}),
      };
    },
  );
  return { runs, order: run.order, ranks: run.ranks, ...(run.failure ? { verbFailure: run.failure } : {}) };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
