/**
 * Command-line parsing shared by every `switchyard` verb.
 *
 * Open MPI's `--mca KEY VALUE` takes two values, which neither commander nor `util.parseArgs`
 * handle without swallowing positionals, so options are parsed here by a small scanner that
 * stops at the first positional (the script of `switchyard run` owns everything after it).
 * As Open MPI's tools, a long option may also be spelled with one dash (`-np 4`, `-mca btl tcp`):
 * a single-dash word that names a long option exactly is that option, not a short one with a value.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Exit code of a usage error (bad flag, bad value): 2, as POSIX tools, so a script tells "called
 * it wrong" from a job, a refusal or a failure.
 */
export const USAGE_EXIT_CODE = 2;

export interface OptionSpec {
  /** Long name without dashes, e.g. `tag-output`. */
  readonly name: string;
  /** Single-letter alias without dash, e.g. `n`. */
  readonly short?: string;
  /** How many values follow the flag: 0 (boolean), 1, or 2 (as `--mca KEY VALUE`). */
  readonly arity: 0 | 1 | 2;
  /** May be given several times; values accumulate. */
  readonly repeat?: boolean;
}

export interface ParsedArgs {
  /** Flag values: `true` for arity 0, a string for arity 1, `[k, v]` for arity 2 (arrays when repeated). */
  readonly options: Map<string, unknown>;
  readonly positionals: string[];
}

/**
 * Parse `argv` against `specs`. With `stopAtPositional`, everything from the first positional on
 * is returned untouched (so `switchyard run -n 2 app.js --mca x y` hands `--mca x y` to app.js).
 * `hints` maps an option name the verb does not take (one another tool has) to what to do instead.
 */
export function parseArgs(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  stopAtPositional = false,
  hints: Readonly<Record<string, string>> = {},
): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options = new Map<string, unknown>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const bare = arg.replace(/^--?/, '').split('=')[0]!;
    // Checked first: `-host` would otherwise read as `-h` with a value.
    if (arg.startsWith('-') && Object.hasOwn(hints, bare) && !byLong.has(bare)) throw unknownOption(arg.split('=')[0]!, bare, hints);
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    let flag: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      spec = byLong.get(name);
      if (eq >= 0) inline = arg.slice(eq + 1);
      if (!spec) throw new UsageError(`unknown option '--${name}'`);
    } else if (arg.startsWith('-') && oneDashLong(arg, byLong)) {
      const eq = arg.indexOf('=');
      spec = byLong.get(eq >= 0 ? arg.slice(1, eq) : arg.slice(1))!;
      if (eq >= 0) inline = arg.slice(eq + 1);
      flag = `-${spec.name}`;
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      spec = byShort.get(arg.slice(1, 2));
      if (!spec) throw new UsageError(`unknown option '${arg}'`);
      if (arg.length > 2) inline = arg.slice(2);
    } else {
      if (stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    flag ??= arg.startsWith('--') ? `--${spec.name}` : `-${spec.short}`;
    let value: unknown;
    if (spec.arity === 0) {
      if (inline !== undefined) throw new UsageError(`option '${flag}' takes no value`);
      value = true;
    } else if (spec.arity === 1) {
      if (inline !== undefined) value = inline;
      else {
        if (i + 1 >= argv.length) throw new UsageError(`option '${flag}' needs a value`);
        value = argv[++i];
      }
    } else {
      // `--mca k v`, or the `--mca k=v` shorthand.
      if (inline !== undefined) throw new UsageError(`option '${flag}' takes two values: ${flag} KEY VALUE`);
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option '${flag}' needs two values: ${flag} KEY VALUE`);
      const eq = next.indexOf('=');
      if (eq > 0 && (i + 2 >= argv.length || argv[i + 2]!.startsWith('-') || stopAtPositional)) {
        value = [next.slice(0, eq), next.slice(eq + 1)];
        i += 1;
      } else {
        if (i + 2 >= argv.length) throw new UsageError(`option '${flag}' needs two values: ${flag} KEY VALUE`);
        value = [next, argv[i + 2]];
        i += 2;
      }
    }
    if (spec.repeat) {
      const list = (options.get(spec.name) as unknown[] | undefined) ?? [];
      list.push(value);
      options.set(spec.name, list);
    } else {
      refuseSecondValue(options, spec, flag, value);
      options.set(spec.name, value);
    }
  }
  return { options, positionals };
}

/** An option that is not repeatable, given again with another value: which one was meant cannot be guessed. */
function refuseSecondValue(options: ReadonlyMap<string, unknown>, spec: OptionSpec, flag: string, value: unknown): void {
  if (!options.has(spec.name)) return;
  const first = options.get(spec.name);
  if (JSON.stringify(first) === JSON.stringify(value)) return;
  throw new UsageError(`option '${flag}' is given twice (${JSON.stringify(first)}, then ${JSON.stringify(value)}); give it once`);
}

function unknownOption(flag: string, name: string, hints: Readonly<Record<string, string>>): UsageError {
  return new UsageError(`unknown option '${flag}': ${hints[name]}`);
}

/** `-np`, `-mca`, `-np=4`: one dash before a whole long name (of two letters or more). */
function oneDashLong(arg: string, byLong: ReadonlyMap<string, OptionSpec>): boolean {
  const eq = arg.indexOf('=');
  const name = eq >= 0 ? arg.slice(1, eq) : arg.slice(1);
  return name.length > 1 && byLong.has(name);
}

/**
 * The `--mca` pairs of a parse, in command-line order. A parameter given twice with different
 * values is a usage error, as in Open MPI: which one was meant cannot be guessed.
 */
export function mcaPairs(parsed: ParsedArgs): Array<[string, string]> {
  const pairs = ((parsed.options.get('mca') as Array<[string, string]> | undefined) ?? []).slice();
  const seen = new Map<string, string>();
  for (const [name, value] of pairs) {
    const first = seen.get(name);
    if (first !== undefined && first !== value) {
      throw new UsageError(
        `MCA parameter '${name}' is given twice on the command line (--mca ${name} ${JSON.stringify(first)}, ` +
          `then --mca ${name} ${JSON.stringify(value)}); give it once`,
      );
    }
    seen.set(name, value);
  }
  return pairs;
}

export const MCA_OPTION: OptionSpec = { name: 'mca', arity: 2, repeat: true };
export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', arity: 0 };
export const JSON_OPTION: OptionSpec = { name: 'json', arity: 0 };

/** Did the command line ask for JSON, in either spelling (`--json`, Open MPI's one-dash `-json`)? Read even when it does not parse. */
export function asksForJson(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--json' || a === '-json');
}
