import { HELP_OPTION, JSON_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError } from '@switchyard/cli-kit';
import { checkBtlName, isVerbName, parseRankList, validateVerb, type Verb, VerbError } from '@switchyard/control';

/** What `switchyard bench switch` was asked to do. */
export interface SwitchOptions {
  readonly help: boolean;
  readonly np: number;
  readonly cycles: number;
  /** The cycle of verbs, run `cycles` times. */
  readonly verbs: readonly Verb[];
  /** Pause between verbs (and before the first, after the last), traffic flowing. */
  readonly gapMs: number;
  readonly json: boolean;
  /** The job's `--mca` pairs: the bench's defaults (each unless the user gives it), then the user's. */
  readonly mca: ReadonlyArray<readonly [string, string]>;
}

export const DEFAULT_NP = 8;
export const DEFAULT_CYCLES = 20;
export const DEFAULT_GAP_MS = 100;
export const DEFAULT_VERBS = 'switch tcp, reset, unload openib, load openib, checkpoint prepare, checkpoint continue';
const MAX_NP = 64;
const MAX_GAP_MS = 60_000;

/** The transports of the job unless `--mca` says otherwise: the fast one, and tcp to switch to. */
export function defaultMca(user: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  const has = (key: string) => user.some(([k]) => k === key);
  const pairs: Array<[string, string]> = [];
  if (!has('btl')) pairs.push(['btl', 'openib,tcp,self']);
  if (!has('btl_openib_provider')) pairs.push(['btl_openib_provider', 'soft']);
  // Loopback only: the bench never sends traffic to another address of this machine.
  if (!has('btl_tcp_if_include') && !has('btl_tcp_if_exclude')) pairs.push(['btl_tcp_if_include', '127.0.0.0/8']);
  return pairs;
}

export function parseSwitchArgs(argv: readonly string[]): SwitchOptions {
  const args = parseArgs(argv, [
    HELP_OPTION,
    JSON_OPTION,
    MCA_OPTION,
    { name: 'np', short: 'n', arity: 1 },
    { name: 'cycles', arity: 1 },
    { name: 'verbs', arity: 1 },
    { name: 'gap', arity: 1 },
  ]);
  const get = (name: string) => args.options.get(name) as string | undefined;
  const json = args.options.get('json') === true;
  if (args.options.get('help')) return { help: true, np: 0, cycles: 0, verbs: [], gapMs: 0, json, mca: [] };
  if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);

  const np = integer(get('np'), DEFAULT_NP, '-n', 2, MAX_NP, 'a whole number of ranks from 2');
  const cycles = integer(get('cycles'), DEFAULT_CYCLES, '--cycles', 1, 100_000, 'a whole number of cycles from 1');
  const gapMs = integer(get('gap'), DEFAULT_GAP_MS, '--gap', 0, MAX_GAP_MS, 'milliseconds from 0');
  const verbs = parseVerbList(get('verbs') ?? DEFAULT_VERBS, np);
  const userMca = mcaPairs(args);
  return { help: false, np, cycles, verbs, gapMs, json, mca: [...defaultMca(userMca), ...userMca] };
}

/** A whole number option from `min` to `max`, `fallback` when not given; a usage error naming the flag otherwise. */
export function integer(text: string | undefined, fallback: number, flag: string, min: number, max: number, what: string): number {
  if (text === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`${flag} takes ${what} to ${max}, got '${text}'`);
  return value;
}

/**
 * A cycle of verbs as `switchyard ctl` spells them, separated by commas or semicolons:
 * `switch tcp, reset, unload openib, load openib`. A `switch` takes a BTL list, so a word after
 * a comma that is not a verb continues it (`switch tcp,openib, reset`). A verb may end with
 * `--ranks LIST` (`switch tcp --ranks 1`); `--ranks` lists use `-` ranges (`0-3`) and, after
 * `--ranks`, commas belong to the list.
 */
export function parseVerbList(text: string, size?: number): Verb[] {
  const items = splitItems(text);
  if (!items.length) throw new UsageError(`--verbs needs at least one verb, e.g. '${DEFAULT_VERBS}'`);
  const verbs: Verb[] = [];
  for (const words of items) {
    try {
      verbs.push(verbOf(words, size));
    } catch (err) {
      if (err instanceof VerbError || err instanceof RangeError) throw new UsageError(`--verbs: '${words.join(' ')}': ${err.message}`);
      throw err;
    }
  }
  return verbs;
}

/**
 * The words of each verb. A verb name starts a verb, `;` ends one; after a comma, a word that is
 * not a verb name continues the list before it: a switch's BTLs (`tcp,openib`) or a `--ranks`
 * list (`0,2-5`). Anything else starts a verb of its own (and is refused if it is none).
 */
function splitItems(text: string): string[][] {
  const items: string[][] = [];
  let current: string[] | undefined;
  let comma = false;
  for (const token of text.split(/([,;])|\s+/)) {
    if (!token) continue;
    if (token === ',' || token === ';') {
      comma = token === ',';
      if (token === ';') current = undefined;
      continue;
    }
    const inList =
      current !== undefined && current.length >= 2 && (current.at(-2) === '--ranks' || (current[0] === 'switch' && current.length === 2));
    if (current && comma && inList && !isVerbName(token)) current[current.length - 1] = `${current.at(-1)},${token}`;
    else if (current && !comma && !isVerbName(token)) current.push(token);
    else items.push((current = [token]));
    comma = false;
  }
  return items;
}

function verbOf(words: readonly string[], size: number | undefined): Verb {
  const rest = [...words];
  let ranks: number[] | undefined;
  const at = rest.indexOf('--ranks');
  if (at >= 0) {
    const list = rest[at + 1];
    if (list === undefined) throw new VerbError('--ranks needs a rank list, e.g. --ranks 0,2-5');
    ranks = parseRankList(list, size);
    rest.splice(at, 2);
  }
  const [name, ...args] = rest;
  if (name === undefined || !isVerbName(name))
    throw new VerbError(`unknown verb '${name ?? ''}'; verbs: switch, reset, unload, load, apply, checkpoint`);
  const scope = ranks ? { ranks } : {};
  const none = (n: number, usage: string) => {
    if (args.length > n) throw new VerbError(`unexpected '${args[n]}': ${usage}`);
  };
  switch (name) {
    case 'switch':
      none(1, 'switch BTL[,BTL...]');
      if (!args[0]) throw new VerbError('switch needs at least one BTL: switch BTL[,BTL...]');
      return validateVerb({ verb: 'switch', btls: args[0].split(',').filter(Boolean).map((b) => checkBtlName(b)), ...scope }, size);
    case 'reset':
      none(0, 'reset takes no arguments');
      return validateVerb({ verb: 'reset', ...scope }, size);
    case 'unload':
    case 'load':
      none(1, `${name} BTL`);
      if (!args[0]) throw new VerbError(`${name} needs a BTL: ${name} BTL`);
      return validateVerb({ verb: name, btl: args[0], ...scope }, size);
    case 'checkpoint':
      none(1, 'checkpoint prepare|continue|restart');
      return validateVerb({ verb: 'checkpoint', phase: args[0], ...scope }, size);
    case 'apply': {
      const mca: Array<[string, string]> = [];
      for (let i = 0; i < args.length; i += 3) {
        if (args[i] !== '--mca' || args[i + 1] === undefined || args[i + 2] === undefined)
          throw new VerbError('apply takes --mca KEY VALUE pairs: apply --mca KEY VALUE...');
        mca.push([args[i + 1]!, args[i + 2]!]);
      }
      return validateVerb({ verb: 'apply', mca, ...scope }, size);
    }
    case 'migrate':
      throw new VerbError("migrate moves a rank with CRIU: run 'switchyard ctl migrate', not a switching schedule step");
  }
}
