import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STOP_DIR, stopFile, type StopRequest } from '../protocol.js';
import { until } from './round.js';
import { writeWhole } from '../write-whole.js';

/** Why a rule that stops ranks cannot run: the job has no runner serving stops. */
export const NO_STOPS = `the kit's runner serves no stops in this job (SWITCHYARD_KIT_SCRATCH is unset or gone): is the kit built?`;

/**
 * A rank's side of being stopped from outside (see the runner's Stopper): the rank asks, the
 * kit's runner sends SIGSTOP and SIGCONT, and the other ranks learn through files in the job's
 * scratch folder when it is stopped. The data path is never touched: the process simply stops.
 */
export class StopControl {
  readonly #dir: string | undefined;

  /** `scratch`: the job's scratch folder as the rank started (a reload may move the variable later). */
  constructor(
    scratch: string | undefined,
    readonly rank: number,
  ) {
    this.#dir = scratch && join(scratch, STOP_DIR);
  }

  get available(): boolean {
    return this.#dir !== undefined && existsSync(this.#dir);
  }

  /**
   * Asks to be stopped for up to `ms` (less once `releases` ranks released it); resolves once
   * the process runs again, false when the runner never stopped and continued it within `limitMs`.
   */
  async stopMe(phase: string, ms: number, releases: number, limitMs: number): Promise<boolean> {
    const dir = this.#dir!;
    mkdirSync(dir, { recursive: true });
    const request: StopRequest = { phase, rank: this.rank, pid: process.pid, ms, releases };
    const file = join(dir, `${stopFile('request', phase, this.rank)}.json`);
    writeWhole(file, JSON.stringify(request));
    return until(() => existsSync(join(dir, stopFile('continued', phase, this.rank))), limitMs);
  }

  /** Waits until every rank of `ranks` is stopped; the ranks still running after `ms` otherwise. */
  async waitStopped(phase: string, ranks: readonly number[], ms: number): Promise<number[]> {
    const stopped = (r: number) => existsSync(join(this.#dir!, stopFile('stopped', phase, r)));
    await until(() => ranks.every(stopped), ms);
    return ranks.filter((r) => !stopped(r));
  }

  /** Says this rank no longer needs `rank` stopped (it is continued once every releaser said so). */
  release(phase: string, rank: number): void {
    try {
      writeFileSync(join(this.#dir!, `${stopFile('release', phase, rank)}-${this.rank}`), '');
    } catch {
      // The job's folder is gone: the runner continued everyone already.
    }
  }
}
