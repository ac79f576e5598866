import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENV_RANK } from '@switchyard/runtime';
import { SCRATCH_ENV } from '../protocol.js';

/**
 * Moves this rank into a working directory of its own, inside the job's scratch folder (removed
 * with it), before the component under test is loaded: real jobs' ranks may each run in a folder
 * of their own (per-rank work dirs) or call `process.chdir()`, so a component must not depend on
 * the working directory (a card naming a path relative to it names nothing in another rank). The
 * folders lie at different depths (rank r's is r + 1 levels below the scratch folder): a relative
 * path resolved from sibling folders at one depth would still name the same file.
 * Returns the directory the rank was started in, for what must still be read from there (the
 * project config), or undefined where the job has no scratch folder (the rank stays where it is).
 */
export function enterOwnFolder(rank: number): string | undefined {
  const scratch = process.env[SCRATCH_ENV];
  if (!scratch) return undefined;
  const started = process.cwd();
  const own = join(resolve(scratch), `rank-${rank}`, ...Array.from({ length: rank }, () => 'w'));
  mkdirSync(own, { recursive: true });
  process.chdir(own);
  return started;
}

/** The rank's number as the launcher gave it (traffic ranks need it before init()). */
export function launchedRank(): number {
  const rank = Number(process.env[ENV_RANK]);
  return Number.isInteger(rank) && rank >= 0 ? rank : 0;
}
