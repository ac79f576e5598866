import { closest } from './closest.js';
import { McaConfigError, McaIssue } from './errors.js';
import { ParamStore } from './param-store.js';
import { coerce, formatValue, LEVEL_NUMBER, ParamTypeError, type ParamLevel, type ParamType, type ValueOf } from './param-types.js';
import type { ParamSource, Setting } from './sources.js';

/** What a framework or component declares about one parameter. */
export interface ParamSpec<T extends ParamType = ParamType> {
  /** Full name, e.g. `btl_tcp_eager_limit` (components get theirs prefixed by the framework). */
  readonly name: string;
  readonly type: T;
  readonly default: ValueOf[T];
  readonly help: string;
  /** Audience, as `ompi_info` levels; default `user`. */
  readonly level?: ParamLevel;
  /** Allowed values of an `enum`. */
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /**
   * A set value that is empty (blank, or a list of nothing) is refused, with this advice on what
   * to write instead; the default may still be empty. For parameters whose empty default means
   * "everything", so that a typo like `btl=` never silently means it.
   */
  readonly whenEmpty?: string;
  /** Extra check after typing; returns what is wrong, or nothing. */
  validate?(value: ValueOf[T]): string | undefined | void;
  /** May `ctl apply` change it while a job runs? Default false (Open MPI's READONLY BTL limits). */
  readonly runtimeSettable?: boolean;
  /** Who declared it: shown by `info`, and used to filter `--param btl tcp`. */
  readonly owner?: { readonly framework: string; readonly component?: string };
}

/** A parameter's current value and where it came from. */
export interface ParamInfo<T extends ParamType = ParamType> {
  readonly spec: ParamSpec<T>;
  readonly value: ValueOf[T];
  readonly source: ParamSource;
  readonly file?: string;
  readonly line?: number;
  /** The value as written in a file (`64k`, `tcp,self`). */
  readonly text: string;
}

/** A live handle: `value` follows runtime changes. */
export interface Param<T extends ParamType = ParamType> {
  readonly name: string;
  readonly value: ValueOf[T];
  info(): ParamInfo<T>;
}

interface Entry {
  spec: ParamSpec;
  value: unknown;
  setting?: Setting;
}

/**
 * The typed parameters of one process. Values are resolved from the {@link ParamStore} when a
 * parameter is registered; type errors are collected (and raised together by {@link assertValid})
 * so a user sees every problem at once and no partial configuration is used.
 */
export interface RuntimeSetOptions {
  /**
   * The owner has not been opened yet (it was only registered), so it reads the value when it is:
   * a parameter that is not runtime-settable may still be set (the conformance kit does this).
   */
  readonly beforeOpen?: boolean;
}

export class ParamRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #issues: McaIssue[] = [];
  /** Name prefixes whose owner could not load: their settings are not "unknown". */
  readonly #reserved = new Set<string>();

  constructor(readonly store: ParamStore = new ParamStore()) {}

  register<T extends ParamType>(spec: ParamSpec<T>): Param<T> {
    const existing = this.#entries.get(spec.name);
    if (existing) {
      // A component re-loaded at run time registers again: same owner, same parameter.
      if (sameOwner(existing.spec, spec)) return this.#handle<T>(spec.name);
      throw new Error(`MCA parameter '${spec.name}' is already registered by ${ownerLabel(existing.spec)}`);
    }
    checkSpec(spec);
    const entry: Entry = { spec, value: spec.default };
    this.#entries.set(spec.name, entry);
    const setting = this.store.highest(spec.name);
    if (setting) {
      try {
        entry.value = typed(spec, setting.raw);
        entry.setting = setting;
      } catch (err) {
        this.#issues.push(typeIssue(spec, setting, err));
      }
    }
    return this.#handle<T>(spec.name);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  get<T = unknown>(name: string): T {
    const entry = this.#entries.get(name);
    if (!entry) throw new Error(`unknown MCA parameter '${name}'${hint(name, this.#entries.keys())}`);
    return entry.value as T;
  }

  info(name: string): ParamInfo {
    const entry = this.#entries.get(name);
    if (!entry) throw new Error(`unknown MCA parameter '${name}'${hint(name, this.#entries.keys())}`);
    const s = entry.setting;
    return {
      spec: entry.spec,
      value: entry.value as never,
      source: s?.source ?? 'default',
      ...(s?.file ? { file: s.file } : {}),
      ...(s?.line !== undefined ? { line: s.line } : {}),
      text: formatValue(entry.spec.type, entry.value),
    };
  }

  list(filter?: (spec: ParamSpec) => boolean): ParamInfo[] {
    return [...this.#entries.values()]
      .filter((e) => !filter || filter(e.spec))
      .map((e) => this.info(e.spec.name))
      .sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  /**
   * Checks a runtime change without making it: the typed value, or a McaIssue naming what is wrong.
   * `ctl apply` validates every key on every rank before it commits any.
   */
  validateRuntime(name: string, raw: unknown, options: RuntimeSetOptions = {}): unknown {
    const entry = this.#entries.get(name);
    if (!entry) throw new McaIssue(`unknown MCA parameter '${name}'${hint(name, this.#entries.keys())}`);
    if (!entry.spec.runtimeSettable && !options.beforeOpen) {
      throw new McaIssue(`MCA parameter '${name}' cannot be changed while a job runs`);
    }
    try {
      return typed(entry.spec, raw);
    } catch (err) {
      throw typeIssue(entry.spec, { name, raw, source: 'runtime' }, err);
    }
  }

  /**
   * Checks a value `source` would give a registered parameter, as registering it does (a launcher
   * checks its `--mca` values before any rank starts): throws the McaIssue a bad value gets.
   * A parameter not registered here is not checked.
   */
  checkSetting(setting: Setting): void {
    const entry = this.#entries.get(setting.name);
    if (!entry) return;
    try {
      typed(entry.spec, setting.raw);
    } catch (err) {
      throw typeIssue(entry.spec, setting, err);
    }
  }

  /** Sets a runtime override (the highest source); returns the previous value. Throws, changing nothing, if invalid. */
  setRuntime(name: string, raw: unknown, options: RuntimeSetOptions = {}): unknown {
    const value = this.validateRuntime(name, raw, options);
    const entry = this.#entries.get(name)!;
    const previous = entry.value;
    this.store.setRuntime(name, raw);
    entry.value = value;
    entry.setting = { name, raw, source: 'runtime' };
    return previous;
  }

  /**
   * A value the device in use suits better than the declared default (Open MPI's per-HCA table):
   * in force unless a user set the parameter from any source. `origin` says which device and
   * table (`info` shows it as the value's source). Throws a McaIssue, changing nothing, if invalid.
   */
  setDeviceDefault(name: string, raw: unknown, origin: string): void {
    const entry = this.#entries.get(name);
    if (!entry) throw new McaIssue(`unknown MCA parameter '${name}'${hint(name, this.#entries.keys())}`);
    let value: unknown;
    try {
      value = typed(entry.spec, raw);
    } catch (err) {
      throw typeIssue(entry.spec, { name, raw, source: 'device', file: origin }, err);
    }
    this.store.setDevice(name, raw, origin);
    const setting = this.store.highest(name)!;
    if (setting.source !== 'device') return;
    entry.value = value;
    entry.setting = setting;
  }

  /** Drops a runtime override: the value falls back to the next source. */
  clearRuntime(name: string): void {
    const entry = this.#entries.get(name);
    if (!entry || entry.setting?.source !== 'runtime') return;
    this.store.clearRuntime(name);
    const setting = this.store.highest(name);
    entry.setting = setting;
    entry.value = setting ? typed(entry.spec, setting.raw) : entry.spec.default;
  }

  /** Settings of unreserved names nobody registered, with the closest known name. */
  unknownSettings(): Array<{ setting: Setting; suggestion?: string }> {
    const out: Array<{ setting: Setting; suggestion?: string }> = [];
    for (const name of this.store.names()) {
      if (this.#entries.has(name) || [...this.#reserved].some((p) => name.startsWith(p))) continue;
      const setting = this.store.highest(name)!;
      const suggestion = closest(name, this.#entries.keys());
      out.push(suggestion ? { setting, suggestion } : { setting });
    }
    return out;
  }

  /** Settings starting with `prefix` belong to a component that could not load: do not warn about them. */
  reservePrefix(prefix: string): void {
    this.#reserved.add(prefix);
  }

  get issues(): readonly McaIssue[] {
    return this.#issues;
  }

  /** Throws every type error found so far, together. */
  assertValid(): void {
    if (this.#issues.length) throw new McaConfigError(this.#issues);
  }

  #handle<T extends ParamType>(name: string): Param<T> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the handle's getters run with their own `this`
    const registry = this;
    return {
      name,
      get value() {
        return registry.get<ValueOf[T]>(name);
      },
      info: () => registry.info(name) as ParamInfo<T>,
    };
  }
}

export function levelNumber(spec: ParamSpec): number {
  return LEVEL_NUMBER[spec.level ?? 'user'];
}

function typed(spec: ParamSpec, raw: unknown, isDefault = false): unknown {
  const value = coerce(spec.type, raw, spec.values);
  if (!isDefault && spec.whenEmpty !== undefined && (value === '' || (Array.isArray(value) && value.length === 0))) {
    throw new ParamTypeError(`must not be empty: ${spec.whenEmpty}`);
  }
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) throw new ParamTypeError(`must be at least ${spec.min}, got ${value}`);
    if (spec.max !== undefined && value > spec.max) throw new ParamTypeError(`must be at most ${spec.max}, got ${value}`);
  }
  const problem = spec.validate?.(value as never);
  if (problem) throw new ParamTypeError(problem);
  return value;
}

function typeIssue(spec: ParamSpec, setting: Setting, err: unknown): McaIssue {
  const from = setting.source === 'environment' ? `environment (SWITCHYARD_MCA_${spec.name})` : setting.source.replace('-', ' ');
  const expected = spec.type === 'enum' ? `enum` : spec.type;
  return new McaIssue(
    `MCA parameter '${spec.name}' (type ${expected}) from ${from}: ${(err as Error).message}`,
    setting.file ? { file: setting.file, ...(setting.line !== undefined ? { line: setting.line } : {}) } : {},
    setting.source,
  );
}

function checkSpec(spec: ParamSpec): void {
  if (!/^[a-z][a-z0-9_]*$/.test(spec.name)) {
    throw new Error(`MCA parameter name '${spec.name}' must be lower case letters, digits and _`);
  }
  if (spec.type === 'enum' && !spec.values?.length) throw new Error(`enum parameter '${spec.name}' needs values`);
  typed(spec, spec.default, true);
}

function sameOwner(a: ParamSpec, b: ParamSpec): boolean {
  return a.owner?.framework === b.owner?.framework && a.owner?.component === b.owner?.component && a.type === b.type;
}

function ownerLabel(spec: ParamSpec): string {
  if (!spec.owner) return 'the MCA base';
  return spec.owner.component ? `${spec.owner.framework}/${spec.owner.component}` : `framework ${spec.owner.framework}`;
}

function hint(name: string, known: Iterable<string>): string {
  const c = closest(name, known);
  return c ? ` (did you mean '${c}'?)` : '';
}
