import { HELP_OPTION, JSON_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError } from '@switchyard/cli-kit';
import { iterationsScaleOf } from '../iterations-scale.js';
import { integer } from '../switch/options.js';
import { FAULT_KIND_NAMES, type FaultKindName } from './kinds.js';

/** What `switchyard bench failover` was asked to do. */
export interface FailoverOptions {
  readonly help: boolean;
  readonly np: number;
  /** Faults injected per kind. */
  readonly faults: number;
  /** Traffic-only time before each fault (and after the last). */
  readonly intervalMs: number;
  readonly kinds: readonly FaultKindName[];
  /** Scales the iterations of the steady-state cost measurement (latency, bandwidth). */
  readonly iterationsScale: number;
  readonly json: boolean;
  /** The user's `--mca` pairs, for every job (after each kind's own). */
  readonly mca: ReadonlyArray<readonly [string, string]>;
}

export const DEFAULT_NP = 8;
export const DEFAULT_FAULTS = 10;
export const DEFAULT_INTERVAL_MS = 2000;
/** Below this, a fault's observation (and a device's unload + load) would run into the next. */
export const MIN_INTERVAL_MS = 500;
const MAX_NP = 64;
/** Parameters the bench sets itself: each kind needs its transports, the cost run both settings. */
const OWN_PARAMS = ['btl', 'pml_failover'];

export function parseFailoverArgs(argv: readonly string[]): FailoverOptions {
  const args = parseArgs(argv, [
    HELP_OPTION,
    JSON_OPTION,
    MCA_OPTION,
    { name: 'np', short: 'n', arity: 1 },
    { name: 'faults', arity: 1 },
    { name: 'interval', arity: 1 },
    { name: 'kinds', arity: 1 },
    { name: 'iterations-scale', arity: 1 },
  ]);
  const get = (name: string) => args.options.get(name) as string | undefined;
  const json = args.options.get('json') === true;
  if (args.options.get('help')) return { help: true, np: 0, faults: 0, intervalMs: 0, kinds: [], iterationsScale: 1, json, mca: [] };
  if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);

  const np = integer(get('np'), DEFAULT_NP, '-n', 2, MAX_NP, 'a whole number of ranks from 2');
  const faults = integer(get('faults'), DEFAULT_FAULTS, '--faults', 1, 10_000, 'a whole number of faults from 1');
  const intervalMs = integer(
    get('interval'),
    DEFAULT_INTERVAL_MS,
    '--interval',
    MIN_INTERVAL_MS,
    600_000,
    `milliseconds from ${MIN_INTERVAL_MS}`,
  );
  const kinds = parseKinds(get('kinds'));

  const iterationsScale = iterationsScaleOf(get('iterations-scale'));

  const mca = mcaPairs(args);
  for (const [key] of mca) {
    if (OWN_PARAMS.includes(key))
      throw new UsageError(
        `--mca ${key} is set by the bench itself (each fault kind loads its transports; the cost run measures pml_failover true and false)`,
      );
  }
  return { help: false, np, faults, intervalMs, kinds, iterationsScale, json, mca };
}

function parseKinds(text: string | undefined): FaultKindName[] {
  if (text === undefined) return [...FAULT_KIND_NAMES];
  const names = [...new Set(text.split(',').map((k) => k.trim()).filter(Boolean))];
  if (!names.length) throw new UsageError(`--kinds needs at least one of ${FAULT_KIND_NAMES.join(', ')}`);
  for (const name of names) {
    if (!(FAULT_KIND_NAMES as readonly string[]).includes(name))
      throw new UsageError(`--kinds: unknown fault kind '${name}'; kinds: ${FAULT_KIND_NAMES.join(', ')}`);
  }
  return names as FaultKindName[];
}
