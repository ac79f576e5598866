import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireUp } from '@switchyard/runtime';
import type { JobPair } from '../protocol.js';
import { until } from './round.js';

/** Where the two jobs of rule two-jobs wait for each other, in this order. */
export const PAIR_PHASES = ['loaded', 'exchanged'] as const;
export type PairPhase = (typeof PAIR_PHASES)[number];

/**
 * One of two kit jobs running on the host at once. They share no runtime, so they meet through
 * files: rank 0 of each says it reached a phase and waits for the other's word; every rank of the
 * job then learns from rank 0 whether the other job came.
 */
export class JobMeeting {
  constructor(
    readonly pair: JobPair,
    readonly wireup: WireUp,
  ) {}

  /** Both jobs reached `phase`; or what kept the other from it. */
  async meet(phase: PairPhase): Promise<string | undefined> {
    const { dir, label, other, meetMs } = this.pair;
    let problem: string | null = null;
    if (this.wireup.rank === 0) {
      writeFileSync(join(dir, `${phase}-${label}`), '');
      if (!(await until(() => existsSync(join(dir, `${phase}-${other}`)), meetMs)))
        problem = `job ${other} did not reach '${phase}' within ${meetMs / 1000} s of job ${label} (see job ${other}'s own failure)`;
    }
    const said = await this.wireup.exchange(this.wireup.rank === 0 ? { problem } : {}, `kit-pair-${phase}`);
    const word = said[0]?.problem;
    return typeof word === 'string' ? word : undefined;
  }

  /** This job stops early: the other is told it passed every phase still ahead, so it does not wait for nothing. */
  abandon(): void {
    if (this.wireup.rank !== 0) return;
    for (const phase of PAIR_PHASES) writeFileSync(join(this.pair.dir, `${phase}-${this.pair.label}`), 'abandoned');
  }
}
