import { HELP_OPTION, JSON_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError } from '@switchyard/cli-kit';
import { iterationsScaleOf } from '../iterations-scale.js';
import { formatSize, parseSize } from '../sizes.js';
import { COLLECTIVES, type Collective } from './cases.js';

/** What `switchyard bench coll` was asked to do. */
export interface CollOptions {
  readonly help: boolean;
  readonly nps: readonly number[];
  readonly sizes: readonly number[];
  readonly colls: readonly Collective[];
  readonly iterationsScale: number;
  readonly ompi: boolean;
  readonly json: boolean;
  readonly mca: ReadonlyArray<readonly [string, string]>;
}

export const DEFAULT_NPS = [4, 8];
export const DEFAULT_SIZES = [8, 64 * 1024, 4 * 1024 * 1024];
/** More ranks than this on one machine measure the scheduler, not the collectives. */
const MAX_NP = 64;

export function parseCollArgs(argv: readonly string[]): CollOptions {
  const args = parseArgs(argv, [
    HELP_OPTION,
    JSON_OPTION,
    MCA_OPTION,
    { name: 'np', short: 'n', arity: 1 },
    { name: 'sizes', arity: 1 },
    { name: 'colls', arity: 1 },
    { name: 'iterations-scale', arity: 1 },
    { name: 'ompi', arity: 0 },
  ]);
  const get = (name: string) => args.options.get(name) as string | undefined;
  const empty = { nps: [], sizes: [], colls: [], iterationsScale: 1, ompi: false, json: false, mca: [] };
  if (args.options.get('help')) return { help: true, ...empty };
  if (args.positionals.length) throw new UsageError(`bench coll takes no arguments, got '${args.positionals.join(' ')}'`);

  const nps = list(get('np'), DEFAULT_NPS, (item) => {
    const n = /^\d+$/.test(item) ? Number(item) : NaN;
    if (!(n >= 2 && n <= MAX_NP)) throw new UsageError(`-n/--np takes rank counts from 2 to ${MAX_NP}, comma-separated, got '${item}'`);
    return n;
  });
  const colls = list(get('colls'), COLLECTIVES, (item) => {
    if (!(COLLECTIVES as readonly string[]).includes(item))
      throw new UsageError(`--colls takes ${COLLECTIVES.join(', ')}, comma-separated, got '${item}'`);
    return item as Collective;
  });
  const sizes = list(get('sizes'), DEFAULT_SIZES, (item) => {
    const size = parseSize(item);
    if (typeof size === 'string') throw new UsageError(`--sizes: ${size}`);
    // allreduce sums doubles, as the Open MPI program does.
    if (size < 8 || size % 8)
      throw new UsageError(`--sizes: ${formatSize(size)} is not a positive multiple of 8 bytes (allreduce sums doubles)`);
    return size;
  }).sort((a, b) => a - b);

  const iterationsScale = iterationsScaleOf(get('iterations-scale'));

  const mca = mcaPairs(args);
  for (const [key] of mca) if (key === 'btl') throw new UsageError('--mca btl is set by the bench itself: coll measures tcp (with self)');
  const flag = (name: string) => args.options.get(name) === true;
  return { help: false, nps, sizes, colls, iterationsScale, ompi: flag('ompi'), json: flag('json'), mca };
}

/** A comma-separated option, each item checked, duplicates dropped; `fallback` when absent. */
function list<T>(text: string | undefined, fallback: readonly T[], item: (text: string) => T): T[] {
  if (text === undefined) return [...fallback];
  return [...new Set(text.split(',').map((t) => item(t.trim())))];
}
