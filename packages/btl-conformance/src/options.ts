import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { requireRule } from './rules.js';

/** How `describeConformance` is called. */
export interface ConformanceOptions {
  /** Absolute folder of the BTL package (its package.json declares `"mca": { "framework": "btl", ... }`). */
  readonly packageDir: string;
  /** Extra `--mca` parameters for every job, e.g. `{ btl_openib_provider: 'soft' }`. */
  readonly params?: Readonly<Record<string, string>>;
  /** Ranks per job: 1 to 4, default 2. */
  readonly ranks?: number;
  /** The test runner's `describe` and `it`; default: vitest's. */
  readonly describe?: (name: string, body: () => void) => unknown;
  readonly it?: TestFunction;
  /** Time for one rule's test, job start-up included (default 120000 ms). */
  readonly timeoutMs?: number;
  /** Rule ids not to check; each is listed as skipped. */
  readonly skip?: readonly string[];
  /** Check only these rule ids (the others are not listed). */
  readonly only?: readonly string[];
  /** How long a check waits for fragments, completions or writable before it fails (default 10000 ms). */
  readonly waitMs?: number;
  /**
   * How long the soak rule keeps every link carrying a trickle of fragments (default 3000 ms, or
   * the environment's SWITCHYARD_KIT_SOAK_MS): set it to 60000 to catch timers of tens of seconds.
   */
  readonly soakMs?: number;
  /**
   * How long rule stopped-peer keeps the odd ranks stopped (SIGSTOP from outside, as a long
   * compute phase would) while the even ranks send to them (default 3000 ms, or the environment's
   * SWITCHYARD_KIT_STOP_MS): longer than any send or link timer of the transport you mean to catch.
   */
  readonly stopMs?: number;
  /**
   * How long rule early-arrival's late ranks wait before their addProcs while the early ones send
   * to them (default 3000 ms, or the environment's SWITCHYARD_KIT_HOLD_MS): longer than any time
   * the transport holds what arrives from a rank not added yet.
   */
  readonly holdMs?: number;
  /**
   * How many 20-byte fragments rule soak's long run sends to one peer (default 69632, past a 16-bit
   * counter's wrap, or the environment's SWITCHYARD_KIT_STREAM_FRAGMENTS): more finds a smaller
   * memory leak per fragment, and takes longer.
   */
  readonly streamFragments?: number;
  /**
   * Ranks of rule wide-job's job (default 12, or the environment's SWITCHYARD_KIT_WIDE_RANKS; at
   * least 11, so ranks with two-digit numbers send): a rank number read back from a fixed number
   * of characters or bits shows only there.
   */
  readonly wideRanks?: number;
}

export type TestFunction = ((name: string, body: (context?: unknown) => unknown, timeoutMs?: number) => unknown) & {
  skip?: (name: string, body: () => unknown) => unknown;
};

/** The checked options and what the package declares. */
export interface Setup {
  readonly packageDir: string;
  readonly packageName: string;
  readonly component: string;
  readonly params: ReadonlyArray<readonly [string, string]>;
  readonly ranks: number;
  readonly timeoutMs: number;
  readonly waitMs: number;
  readonly soakMs: number;
  readonly stopMs: number;
  readonly holdMs: number;
  readonly wideRanks: number;
  readonly streamFragments: number;
  readonly skip: ReadonlySet<string>;
  readonly only?: ReadonlySet<string>;
}

/** Checks the options and reads the package's declaration; a clear TypeError says what is wrong. */
export function resolveSetup(options: ConformanceOptions): Setup {
  const where = 'describeConformance';
  if (!options || typeof options.packageDir !== 'string' || !isAbsolute(options.packageDir)) {
    throw new TypeError(`${where}: packageDir must be an absolute folder path (got ${JSON.stringify(options?.packageDir)})`);
  }
  const manifestPath = join(options.packageDir, 'package.json');
  if (!existsSync(manifestPath))
    throw new TypeError(`${where}: ${manifestPath} does not exist (packageDir must be the BTL package's folder)`);
  let pkg: { name?: string; mca?: { framework?: string; component?: string } };
  try {
    pkg = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    throw new TypeError(`${where}: ${manifestPath} does not parse: ${(error as Error).message}`, { cause: error });
  }
  if (!pkg.mca || pkg.mca.framework !== 'btl' || typeof pkg.mca.component !== 'string') {
    throw new TypeError(
      `${where}: ${manifestPath} declares no btl component: it needs "mca": { "framework": "btl", "component": "<name>", "api": "^1.0.0" ` +
        `} (see docs/components.md)`,
    );
  }
  const ranks = options.ranks ?? 2;
  if (!Number.isInteger(ranks) || ranks < 1 || ranks > 4)
    throw new TypeError(`${where}: ranks must be an integer from 1 to 4 (got ${options.ranks})`);
  const params = Object.entries(options.params ?? {}).map(([k, v]) => {
    if (typeof v !== 'string') throw new TypeError(`${where}: params.${k} must be a string (got ${typeof v})`);
    return [k, v] as const;
  });
  for (const id of options.skip ?? []) requireRule(id, `${where}: skip`);
  for (const id of options.only ?? []) requireRule(id, `${where}: only`);
  const positive = (n: number | undefined, fallback: number, name: string) => {
    if (n === undefined) return fallback;
    if (!Number.isFinite(n) || n <= 0) throw new TypeError(`${where}: ${name} must be a positive number of milliseconds (got ${n})`);
    return n;
  };
  return {
    packageDir: options.packageDir,
    packageName: pkg.name ?? options.packageDir,
    component: pkg.mca.component,
    params,
    ranks,
    timeoutMs: positive(options.timeoutMs, 120_000, 'timeoutMs'),
    waitMs: positive(options.waitMs, 10_000, 'waitMs'),
    soakMs: positive(options.soakMs ?? msFromEnv('SWITCHYARD_KIT_SOAK_MS'), 3000, 'soakMs'),
    stopMs: positive(options.stopMs ?? msFromEnv('SWITCHYARD_KIT_STOP_MS'), 3000, 'stopMs'),
    holdMs: positive(options.holdMs ?? msFromEnv('SWITCHYARD_KIT_HOLD_MS'), 3000, 'holdMs'),
    wideRanks: wideRanksOf(options.wideRanks),
    streamFragments: streamFragments(options.streamFragments ?? countFromEnv('SWITCHYARD_KIT_STREAM_FRAGMENTS')),
    skip: new Set(options.skip ?? []),
    ...(options.only ? { only: new Set(options.only) } : {}),
  };
}

/** A duration from the environment, when set: a CI job can lengthen the soak or the stop without editing the test file. */
function msFromEnv(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new TypeError(`describeConformance: ${name} must be a positive number of milliseconds (got '${text}')`);
  return n;
}

/** The long run's default length: past a 16-bit counter's wrap (65,536), with a margin. */
export const STREAM_FRAGMENTS = 65_536 + 4_096;

function streamFragments(n: number | undefined): number {
  if (n === undefined) return STREAM_FRAGMENTS;
  if (!Number.isInteger(n) || n < STREAM_FRAGMENTS)
    throw new TypeError(`describeConformance: streamFragments must be an integer of at least ${STREAM_FRAGMENTS} (got ${n}; fewer would ` +
      `not reach a 16-bit counter's wrap)`);
  return n;
}

/** A count from the environment, when set. */
function countFromEnv(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new TypeError(`describeConformance: ${name} must be an integer (got '${text}')`);
  return n;
}

/** The lowest wideRanks: ranks 10 and up, whose numbers have two digits, must send. */
export const MIN_WIDE_RANKS = 11;
/** The highest: every rank is a process on the kit's host, and the job must stay cheap. */
export const MAX_WIDE_RANKS = 64;

/** wideRanks from the option, else the environment, else 12; out of range is refused, naming where it came from. */
function wideRanksOf(option: number | undefined): number {
  const fromEnv = option === undefined ? countFromEnv('SWITCHYARD_KIT_WIDE_RANKS') : undefined;
  const value = option ?? fromEnv ?? 12;
  if (!Number.isInteger(value) || value < MIN_WIDE_RANKS || value > MAX_WIDE_RANKS)
    throw new TypeError(
      `describeConformance: ${option !== undefined ? 'wideRanks' : 'SWITCHYARD_KIT_WIDE_RANKS'} must be an integer from ` +
        `${MIN_WIDE_RANKS} to ${MAX_WIDE_RANKS} (got ${option ?? `'${fromEnv}'`})`,
    );
  return value;
}
