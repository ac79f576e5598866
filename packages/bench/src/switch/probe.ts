/**
 * Where a verb's time goes. The coordinator is handed the job through a pass-through view that
 * times its requests to the ranks: for the verb in flight, how long prepare and commit took from
 * request to the last rank's answer, how long the slowest rank said its commit took (the work
 * itself: drains, loads, modex exchanges), and which rank answered last. Nothing the coordinator
 * sends or receives is changed.
 */
import type { RequestOptions, RunningJob } from '@switchyard/runtime';
import { epochNow } from './plan.js';

export interface VerbPhases {
  /** Request to last answer, ms. */
  prepareMs: number | null;
  commitMs: number | null;
  /** The longest commit time a rank reported (its own account, from prepare done to its answer). */
  rankCommitMs: number | null;
  /** The rank that answered commit last. */
  lastRank: number | null;
}

export class VerbProbe {
  #current: VerbPhases | undefined;

  /** Starts recording a verb's phases; returns what will be filled in. */
  begin(): VerbPhases {
    this.#current = { prepareMs: null, commitMs: null, rankCommitMs: null, lastRank: null };
    return this.#current;
  }

  end(): void {
    this.#current = undefined;
  }

  /** The job as the coordinator should see it: the same, with `request` timed. */
  wrap(job: RunningJob): RunningJob {
    const request = (
      ranks: readonly number[] | 'all',
      body: unknown,
      timeoutMs: number,
      options?: RequestOptions,
    ): Promise<Map<number, unknown>> => {
      const phases = this.#current;
      const kind = (body as { ctl?: unknown } | null)?.ctl;
      const started = epochNow();
      const pending = job.request(ranks, body, timeoutMs, options);
      if (!phases || (kind !== 'prepare' && kind !== 'commit')) return pending;
      // The coordinator asks each rank separately: the phase ends with the last answer.
      return pending.then((replies) => {
        const ms = epochNow() - started;
        if (kind === 'prepare') phases.prepareMs = Math.max(phases.prepareMs ?? 0, ms);
        else {
          if (ms >= (phases.commitMs ?? 0)) {
            phases.commitMs = ms;
            phases.lastRank = replies.keys().next().value ?? null;
          }
          for (const reply of replies.values()) {
            const own = (reply as { ms?: unknown } | null)?.ms;
            if (typeof own === 'number' && Number.isFinite(own)) phases.rankCommitMs = Math.max(phases.rankCommitMs ?? 0, own);
          }
        }
        return replies;
      });
    };
    return new Proxy(job, {
      get(target, key) {
        if (key === 'request') return request;
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}
