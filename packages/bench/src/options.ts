import { HELP_OPTION, JSON_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError } from '@switchyard/cli-kit';
import { iterationsScaleOf } from './iterations-scale.js';
import { BIND_POLICIES, type BindPolicy } from '@switchyard/runtime';
import { parseSize } from './sizes.js';
import type { Benchmark, OmpiBtl, ProgressMode, RawSocket } from './types.js';

/** What `switchyard bench` was asked to do. */
export interface BenchOptions {
  readonly help: boolean;
  readonly benchmarks: readonly Benchmark[];
  /** BTLs under test, each run as `--mca btl <btl>,self`. */
  readonly btls: readonly string[];
  /** Sizes for every benchmark, when given; else each benchmark's default list. */
  readonly sizes?: readonly number[];
  readonly modes: readonly ProgressMode[];
  readonly iterationsScale: number;
  readonly json: boolean;
  readonly mca: ReadonlyArray<readonly [string, string]>;
  /** The raw Node baselines to run (`--raw`): loopback TCP and/or a Unix domain socket. */
  readonly raw: readonly RawSocket[];
  /** Open MPI BTLs measured as a second baseline (`--ompi`, `--ompi-btl`); empty: none. */
  readonly ompi: readonly OmpiBtl[];
  /** `--chart FILE`: also draw the results as an SVG there (as given, relative to the working folder). */
  readonly chart?: string;
  /**
   * `--bind-to`: where every run's two processes run, Switchyard's, raw Node's and Open MPI's
   * alike; unset, mpirun's default (each on a core of its own, where there are two).
   */
  readonly bindTo?: BindPolicy;
}

/** What `--ompi` measures when `--ompi-btl` does not say. */
export const DEFAULT_OMPI_BTLS: readonly OmpiBtl[] = ['tcp', 'vader'];
const OMPI_BTL_NAMES: ReadonlySet<string> = new Set<OmpiBtl>(['tcp', 'vader']);
const RAW_SOCKETS: ReadonlySet<string> = new Set<RawSocket>(['tcp', 'uds']);

const BENCHMARKS = new Map<string, readonly Benchmark[]>([
  ['latency', ['latency']],
  ['bandwidth', ['bandwidth']],
  ['all', ['latency', 'bandwidth']],
]);
const MODES = new Map<string, readonly ProgressMode[]>([
  ['sleep', ['sleep']],
  ['busy', ['busy']],
  ['both', ['sleep', 'busy']],
]);
/** Parameters the bench sets itself, and the option that controls each. */
const OWN_PARAMS = new Map([
  ['btl', '--btl'],
  ['pml_busy_poll', '--progress'],
]);

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const args = parseArgs(argv, [
    HELP_OPTION,
    JSON_OPTION,
    MCA_OPTION,
    { name: 'btl', arity: 1 },
    { name: 'sizes', arity: 1 },
    { name: 'progress', arity: 1 },
    { name: 'iterations-scale', arity: 1 },
    { name: 'ompi', arity: 0 },
    { name: 'ompi-btl', arity: 1 },
    { name: 'chart', arity: 1 },
    { name: 'raw', arity: 1 },
    { name: 'bind-to', arity: 1 },
  ]);
  const get = (name: string) => args.options.get(name) as string | undefined;
  if (args.options.get('help'))
    return { help: true, benchmarks: [], btls: [], modes: [], iterationsScale: 1, json: false, mca: [], raw: [], ompi: [] };

  if (args.positionals.length > 1) throw new UsageError(`unexpected argument '${args.positionals[1]}'`);
  const name = args.positionals[0] ?? 'all';
  const benchmarks = BENCHMARKS.get(name);
  if (!benchmarks) {
    throw new UsageError(`unknown benchmark '${name}'; choose latency, bandwidth, all, switch, failover, coll, checkpoint or chart`);
  }

  const btls = [...new Set((get('btl') ?? 'tcp').split(',').map((b) => b.trim()))];
  for (const btl of btls) {
    if (btl === 'self')
      throw new UsageError('--btl: self is added to every run; name the BTLs that carry traffic between the two ranks (e.g. tcp)');
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(btl)) throw new UsageError(`--btl takes a comma-separated list of BTL names (e.g. tcp,openib), got '${get('btl')}'`);
  }

  let sizes: number[] | undefined;
  const sizesText = get('sizes');
  if (sizesText !== undefined) {
    sizes = [];
    for (const item of sizesText.split(',')) {
      const size = parseSize(item);
      if (typeof size === 'string') throw new UsageError(`--sizes: ${size}`);
      sizes.push(size);
    }
    sizes = [...new Set(sizes)].sort((a, b) => a - b);
    if (benchmarks.length === 1 && benchmarks[0] === 'bandwidth' && !sizes.some((s) => s > 0)) {
      throw new UsageError('--sizes: bandwidth needs a size above 0');
    }
  }

  const modeText = get('progress') ?? 'sleep';
  const modes = MODES.get(modeText);
  if (!modes) throw new UsageError(`--progress takes sleep, busy or both, got '${modeText}'`);

  const iterationsScale = iterationsScaleOf(get('iterations-scale'));

  const mca = mcaPairs(args);
  for (const [key] of mca) {
    const own = OWN_PARAMS.get(key);
    if (own) throw new UsageError(`--mca ${key} is set by the bench itself; use ${own}`);
  }

  const chart = get('chart');
  const bindTo = get('bind-to');
  if (bindTo !== undefined && !(BIND_POLICIES as readonly string[]).includes(bindTo))
    throw new UsageError(`--bind-to takes ${BIND_POLICIES.join(' or ')}, got '${bindTo}'`);
  return {
    help: false,
    ...(chart !== undefined ? { chart } : {}),
    ...(bindTo !== undefined ? { bindTo: bindTo as BindPolicy } : {}),
    raw: parseRaw(get('raw'), btls),
    ompi: parseOmpi(args.options.get('ompi') === true, get('ompi-btl')),
    benchmarks,
    btls,
    ...(sizes ? { sizes } : {}),
    modes,
    iterationsScale,
    json: args.options.get('json') === true,
    mca,
  };
}

/** `--ompi` alone: tcp and vader; `--ompi-btl LIST` picks (and implies `--ompi`). */
function parseOmpi(flag: boolean, list: string | undefined): OmpiBtl[] {
  if (list === undefined) return flag ? [...DEFAULT_OMPI_BTLS] : [];
  const btls = [...new Set(list.split(',').map((b) => b.trim()))];
  for (const btl of btls) {
    if (btl === 'self') throw new UsageError('--ompi-btl: self is added to every Open MPI run; name tcp and/or vader');
    if (!OMPI_BTL_NAMES.has(btl))
      throw new UsageError(
        `--ompi-btl takes tcp and/or vader, comma-separated (Open MPI's loopback TCP and shared-memory BTLs), got '${btl}' in '${list}'`,
      );
  }
  return btls as OmpiBtl[];
}

/**
 * `--raw LIST` picks the raw Node baselines; without it tcp, and uds too when sm is measured
 * (sm's sleeping latency is held to raw Node over a Unix socket's).
 */
function parseRaw(list: string | undefined, btls: readonly string[]): RawSocket[] {
  if (list === undefined) return btls.includes('sm') ? ['tcp', 'uds'] : ['tcp'];
  const sockets = [...new Set(list.split(',').map((s) => s.trim()))];
  for (const socket of sockets) {
    if (!RAW_SOCKETS.has(socket))
      throw new UsageError(
        `--raw takes tcp and/or uds, comma-separated (raw Node over a loopback TCP or a Unix domain socket), got '${socket}' in '${list}'`,
      );
  }
  // In one order whatever the list's, so tables and runs line up from run to run.
  return (['tcp', 'uds'] as const).filter((socket) => sockets.includes(socket));
}
