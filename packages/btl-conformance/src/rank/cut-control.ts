import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CUT_DIR, type CutAnswer, type CutRound, type CutSockets } from '../protocol.js';
import { openDescriptors } from './open-descriptors.js';
import { until } from './round.js';
import { writeWhole } from '../write-whole.js';

/** This process's socket descriptors now, as fd -> inode (/proc/self/fd). */
export function openSockets(): Map<number, number> {
  const sockets = new Map<number, number>();
  for (const [fd, target] of openDescriptors() ?? []) {
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) sockets.set(Number(fd), Number(inode));
  }
  return sockets;
}

/**
 * A rank's side of rule link-cut (see the runner's LinkCutter): it lists the sockets opened since
 * the component was loaded, and rank 0 asks the runner to cut the connections between the ranks'
 * listed sockets. The module is never touched: the runner acts on the sockets from outside.
 */
export class CutControl {
  readonly #dir: string | undefined;

  constructor(
    scratch: string | undefined,
    readonly rank: number,
  ) {
    this.#dir = scratch && join(scratch, CUT_DIR);
  }

  get available(): boolean {
    return this.#dir !== undefined && existsSync(this.#dir);
  }

  /**
   * Writes the sockets open now that were not open in `before` (inodes taken before the load),
   * leaving out the descriptors `runtime` names (the job's own transport).
   */
  list(round: CutRound, before: ReadonlySet<number>, runtime: ReadonlySet<number>): number {
    const sockets = newSockets(before, runtime).map(([fd, inode]) => ({ fd, inode }));
    const listing: CutSockets = { rank: this.rank, pid: process.pid, sockets };
    writeWhole(join(this.#dir!, `sockets-${round}-${this.rank}.json`), JSON.stringify(listing));
    return sockets.length;
  }

  /** Asks for the round (every rank has listed its sockets for it); the runner's answer, or undefined after `limitMs`. */
  async request(round: CutRound, limitMs: number): Promise<CutAnswer | undefined> {
    writeWhole(join(this.#dir!, `request-${round}.json`), '{}');
    const answer = join(this.#dir!, `answer-${round}.json`);
    if (!(await until(() => existsSync(answer), limitMs))) return undefined;
    return JSON.parse(readFileSync(answer, 'utf8')) as CutAnswer;
  }
}

/** Sockets open now, as [fd, inode], that were not open in `before` and are not among the `runtime` descriptors. */
export function newSockets(before: ReadonlySet<number>, runtime: ReadonlySet<number>): Array<[number, number]> {
  return [...openSockets()].filter(([fd, inode]) => !before.has(inode) && !runtime.has(fd));
}
