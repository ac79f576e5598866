import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
// Only the functions used: the whole of semver is many modules for every process to load.
import satisfies from 'semver/functions/satisfies.js';
import validVersion from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import { AsyncSeriesHook, SyncHook } from 'tapable';
import type { ComponentParams, McaComponent, OpenContext, OpenResult, RegisterContext } from './component.js';
import { ComponentRecord, type ComponentStatus } from './component-record.js';
import { McaSelectionError } from './errors.js';
import { HookScope } from './hook-scope.js';
import type { Mca } from './mca.js';
import type { Param } from './params.js';
import { formatSelection, isSelected, parseSelection, type Selection } from './selection.js';
import { TracePlugin } from './trace.js';
import { exportedComponent } from './entry-export.js';

/** What makes a framework: its name, API version and how to check and finalize its components' parts. */
export interface FrameworkDefinition<C extends McaComponent<M, I>, M = unknown, I = unknown> {
  /** e.g. `btl`; also the name of its selection parameter. */
  readonly name: string;
  /** The API version components declare a semver range against. */
  readonly apiVersion: string;
  readonly description: string;
  /** Returns what is wrong with an imported component object, or nothing. */
  readonly checkComponent?: (component: unknown) => string | undefined;
  /** Finalizes one module (the framework knows its module type). */
  readonly finalizeModule?: (module: M) => void | Promise<void>;
  /** Marker for type inference only. */
  readonly _types?: { component: C };
}

type Record_<C, M> = ComponentRecord<C, M>;

/**
 * The hooks of a framework, one per lifecycle step: what a component's `apply` taps (through a
 * scope) and what `<framework>_base_verbose` traces.
 */
export type FrameworkHooks<C = unknown, M = unknown> = {
  /** A component was imported and declared its parameters. */
  readonly registered: SyncHook<[Record_<C, M>]>;
  /** A component cannot be used (incompatible, failed, unavailable): why, as `component.reason` keeps it. */
  readonly skipped: SyncHook<[Record_<C, M>, string]>;
  /** After a component's `open` accepted. */
  readonly open: AsyncSeriesHook<[Record_<C, M>]>;
  /** After a component's `init` returned its modules (`component.modules`). */
  readonly init: AsyncSeriesHook<[Record_<C, M>]>;
  /** Before a component's modules are finalized (hot unload or shutdown). */
  readonly finalize: AsyncSeriesHook<[Record_<C, M>]>;
  /** After a component was closed; its taps are gone after this. */
  readonly close: AsyncSeriesHook<[Record_<C, M>]>;
};

/**
 * One MCA framework: its components' discovery, compatibility check, registration, selection and
 * lifecycle (register, open, init → modules, finalize, close), with hot load and hot unload.
 * Plugins observe and take part through `hooks`, webpack style.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- defaults for code that handles every framework alike
export class Framework<C extends McaComponent<M, I> = McaComponent<any, any>, M = any, I = any> {
  readonly hooks: FrameworkHooks<C, M> = Object.freeze({
    registered: new SyncHook<[Record_<C, M>]>(['component']),
    skipped: new SyncHook<[Record_<C, M>, string]>(['component', 'why']),
    open: new AsyncSeriesHook<[Record_<C, M>]>(['component']),
    init: new AsyncSeriesHook<[Record_<C, M>]>(['component']),
    finalize: new AsyncSeriesHook<[Record_<C, M>]>(['component']),
    close: new AsyncSeriesHook<[Record_<C, M>]>(['component']),
  });

  readonly name: string;
  readonly apiVersion: string;
  readonly #records = new Map<string, Record_<C, M>>();
  readonly #selection: Param<'list'>;
  readonly #verbose: Param<'integer'>;
  #declared = false;

  constructor(
    readonly definition: FrameworkDefinition<C, M, I>,
    readonly mca: Mca,
  ) {
    this.name = definition.name;
    this.apiVersion = definition.apiVersion;
    if (!validVersion(definition.apiVersion))
      throw new Error(`framework '${this.name}' API version '${definition.apiVersion}' is not semver`);
    this.#selection = mca.params.register({
      name: this.name,
      type: 'list',
      default: [],
      help:
        `Which ${this.name} components to use: a comma-separated list (e.g. tcp,self), or ^ and a list to exclude ` +
        `(e.g. ^openib). Unset: all that are available.`,
      whenEmpty:
        `to use every available ${this.name} component leave ${this.name} unset, ` +
        `or exclude some with ^ (e.g. ${this.name}=^openib)`,
      validate: (v) => {
        try {
          parseSelection(v);
        } catch (err) {
          return (err as Error).message;
        }
      },
      runtimeSettable: true,
      owner: { framework: this.name },
    });
    this.#verbose = mca.params.register({
      name: `${this.name}_base_verbose`,
      type: 'integer',
      default: 0,
      min: 0,
      help: `Verbosity of the ${this.name} framework: above 0 traces every lifecycle step to stderr.`,
      level: 'developer',
      runtimeSettable: true,
      owner: { framework: this.name },
    });
    if (this.verbose > 0) new TracePlugin(`mca:${this.name}`, (line) => mca.log(line)).apply(this);
  }

  get verbose(): number {
    return Math.max(this.#verbose.value, this.mca.verbose);
  }

  selection(): Selection {
    return parseSelection(this.#selection.value);
  }

  records(): Record_<C, M>[] {
    return [...this.#records.values()];
  }

  record(name: string): Record_<C, M> | undefined {
    return this.#records.get(name);
  }

  /**
   * Lists this framework's components from their package.json declarations, importing nothing:
   * each is `declared`, or `skipped` with the reason (an API range that does not admit this
   * framework, a package the trust check refused). Runs once; `rescan` looks again.
   */
  declare(): Record_<C, M>[] {
    if (this.#declared) return this.records();
    this.#declared = true;
    const found = this.mca.discover();
    for (const f of found.found.filter((c) => c.manifest.framework === this.name)) {
      if (this.#records.has(f.manifest.component)) continue;
      const record = new ComponentRecord<C, M>(this.name, f);
      this.#records.set(record.name, record);
      this.#checkApi(record);
    }
    for (const f of found.refused.filter((c) => c.manifest.framework === this.name)) {
      if (this.#records.has(f.manifest.component)) continue;
      const record = new ComponentRecord<C, M>(this.name, f);
      this.#records.set(record.name, record);
      this.#skip(record, 'skipped', `refused: ${f.reason}`);
    }
    return this.records();
  }

  /**
   * A package found but refused as a component whose name or reason mentions `name` (a
   * declaration with a misspelt or malformed component name): said next to "not found".
   */
  #lookalike(name: string): string {
    const wanted = name.toLowerCase();
    const p = this.mca
      .discover()
      .problems.find((x) => (x.packageName ?? '').toLowerCase().includes(wanted) || x.reason.toLowerCase().includes(`'${wanted}'`));
    return p ? ` (${p.packageName ?? p.dir} is not a component: ${p.reason})` : '';
  }

  /**
   * Declares the components, then imports those the selection keeps and lets each register its
   * parameters (Open MPI's component open of the selected ones). A component that fails to
   * import is kept with its reason; the others go on. Call it again after the selection changed.
   */
  async register(): Promise<Record_<C, M>[]> {
    this.declare();
    const selection = this.selection();
    for (const record of this.#records.values()) {
      if (isSelected(selection, record.name)) await this.#importOnce(record);
    }
    return this.records();
  }

  /** Imports one declared component (hot load of one the start-up selection left out); returns its record. */
  async importComponent(name: string): Promise<Record_<C, M>> {
    this.declare();
    const record = this.#require(name);
    await this.#importOnce(record);
    return record;
  }

  /** Looks for component packages again (installed after start-up) and registers new ones. */
  async rescan(): Promise<Record_<C, M>[]> {
    this.mca.clearDiscovery();
    this.#declared = false;
    return this.register();
  }

  /**
   * Components the selection parameter lets in; throws when an included one is missing or cannot
   * load. With `import: false` nothing new is imported (a listing): only the components imported
   * already are returned, and a declared one counts as usable.
   */
  async selected(options: { import?: boolean } = {}): Promise<Record_<C, M>[]> {
    if (options.import === false) this.declare();
    else await this.register();
    const selection = this.selection();
    if (selection.mode === 'include') {
      for (const name of selection.names) {
        const r = this.#records.get(name);
        if (!r || !(r.loadable || r.status === 'declared')) {
          throw new McaSelectionError(
            `${this.name} component '${name}' was requested (${this.name}=${formatSelection(selection)}) but ` +
              (r ? `cannot be used: ${r.reason}` : `was not found${this.#lookalike(name)}`) +
              `. Available ${this.name} components: ${this.#availableList()}`,
          );
        }
      }
    }
    const out: Record_<C, M>[] = [];
    for (const r of this.#records.values()) {
      if (!isSelected(selection, r.name)) {
        if (r.status === 'registered' || r.status === 'declared') {
          r.status = 'excluded';
          r.reason = `not selected by ${this.name}=${formatSelection(selection)}`;
        }
        continue;
      }
      if (!r.loadable) continue;
      if (r.status === 'excluded') {
        r.status = 'registered';
        delete r.reason;
      }
      out.push(r);
    }
    return out;
  }

  /**
   * Opens a component (Open MPI's component open: query the environment). Resolves true if it
   * accepted; a decline or a throw marks it unavailable / failed, with the reason.
   */
  async open(name: string): Promise<boolean> {
    const record = this.#require(name);
    if (record.status === 'opened' || record.status === 'active') return true;
    await this.#importOnce(record);
    if (!record.loadable) return false;
    const component = record.component!;
    let result: void | OpenResult;
    try {
      result = await this.#bounded(component.open?.(this.#openContext(record)), 'open');
    } catch (err) {
      this.#skip(record, 'failed', `open failed: ${(err as Error).message ?? err}`);
      return false;
    }
    if (result && result.available === false) {
      this.#skip(record, 'unavailable', result.reason);
      return false;
    }
    record.status = 'opened';
    record.details = result?.details ?? [];
    delete record.reason;
    await this.hooks.open.promise(record);
    return true;
  }

  /**
   * Asks a component, loaded or not, whether it could be used here now (its `open`, the query of
   * the environment, run again without changing its state): the probe before a component that
   * failed is loaded anew. A component's `open` must therefore only look, never take anything.
   */
  async query(name: string): Promise<{ available: boolean; reason?: string }> {
    const record = this.#require(name);
    await this.#importOnce(record);
    if (!record.component) return { available: false, reason: record.reason ?? 'not imported' };
    try {
      const result = await record.component.open?.(this.#openContext(record));
      return result && result.available === false ? { available: false, reason: result.reason } : { available: true };
    } catch (err) {
      return { available: false, reason: `open failed: ${(err as Error).message ?? err}` };
    }
  }

  /** Opens (if needed) and initialises a component; returns its modules. Hot load after start-up is the same call. */
  async load(name: string, context: I): Promise<readonly M[]> {
    const record = this.#require(name);
    if (record.status === 'active') throw new Error(`${this.name} component '${name}' is already loaded`);
    if (!(await this.open(name))) throw new Error(`${this.name} component '${name}' is ${record.status}: ${record.reason}`);
    const component = record.component!;
    const scope = new HookScope(`${this.name}/${name}`);
    record.scope = scope;
    try {
      component.apply?.({ name: this.name, hooks: scope.view(this.hooks) });
      record.modules = (await this.#bounded(component.init?.(context), 'init', (late) => this.#finalizeLate(late))) ?? [];
    } catch (err) {
      scope.dispose();
      await this.#bounded(this.#closeQuietly(record), 'close').catch(() => {});
      this.#skip(record, 'failed', `init failed: ${(err as Error).message ?? err}`);
      record.failedAtInit = true;
      throw err;
    }
    record.loads += 1;
    record.status = 'active';
    record.failedAtInit = false;
    await this.hooks.init.promise(record);
    return record.modules;
  }

  /**
   * Start-up: opens and initialises every selected component. One that declines or fails is
   * left out (and listed with its reason), unless the selection named it explicitly: then the
   * user asked for something that cannot be had, which is fatal.
   */
  async loadSelected(contextFor: (component: string) => I): Promise<Record_<C, M>[]> {
    const selection = this.selection();
    const loaded: Record_<C, M>[] = [];
    for (const record of await this.selected()) {
      try {
        if (!(await this.open(record.name))) throw new Error(record.reason);
        await this.load(record.name, contextFor(record.name));
        loaded.push(record);
      } catch (err) {
        if (selection.mode === 'include') {
          throw new McaSelectionError(
            `${this.name} component '${record.name}' was requested (${this.name}=${formatSelection(selection)}) but cannot be used: ` +
              `${record.reason ?? (err as Error).message}`,
          );
        }
      }
    }
    return loaded;
  }

  /**
   * Hot unload: finalize the modules, close the component, and drop every tap it made. It can be
   * loaded again afterwards.
   */
  async unload(name: string): Promise<void> {
    const record = this.#require(name);
    if (record.status !== 'active' && record.status !== 'opened') {
      throw new Error(`${this.name} component '${name}' is not loaded (${record.status})`);
    }
    await this.hooks.finalize.promise(record);
    const errors: Error[] = [];
    const what = `${this.name} component '${name}'`;
    for (const module of record.modules) {
      try {
        await this.#bounded(this.definition.finalizeModule?.(module), `finalize() of a module of ${what}`);
      } catch (err) {
        errors.push(stepError(`finalize() of a module of ${what}`, err));
      }
    }
    record.modules = [];
    try {
      await this.#bounded(record.component?.close?.(), `close() of ${what}`);
    } catch (err) {
      errors.push(stepError(`close() of ${what}`, err));
    }
    record.status = 'closed';
    await this.hooks.close.promise(record);
    record.scope?.dispose();
    delete record.scope;
    // Unloaded all the same: the component is closed and its taps are gone; the errors say what it did wrong.
    if (errors.length) throw new UnloadError(this.name, name, errors);
  }

  /** Unloads every loaded component (shutdown); throws what they reported once all are unloaded. */
  async unloadAll(): Promise<void> {
    const errors: Error[] = [];
    for (const r of [...this.#records.values()].reverse()) {
      // One component's errors do not keep the others loaded.
      if (r.status === 'active' || r.status === 'opened') await this.unload(r.name).catch((err: Error) => errors.push(err));
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  /** A component's parameters by local name. */
  paramsOf(name: string): ComponentParams {
    const prefix = `${this.name}_${name}_`;
    return {
      get: <T>(local: string) => this.mca.params.get<T>(prefix + local),
      fullName: (local: string) => prefix + local,
      deviceDefault: (local: string, raw: unknown, origin: string) => this.mca.params.setDeviceDefault(prefix + local, raw, origin),
    };
  }

  /** The declared API range against this framework's version, from package.json alone. */
  #checkApi(record: Record_<C, M>): void {
    const { manifest } = record.found;
    const range = validRange(manifest.api);
    if (!range) {
      this.#skip(record, 'skipped', `declares API range '${manifest.api}', which is not a semver range`);
    } else if (!satisfies(this.apiVersion, range, { includePrerelease: true })) {
      this.#skip(record, 'skipped', `supports ${this.name} API ${manifest.api}, but this framework is API ${this.apiVersion}`);
    }
  }

  /** Imports a declared (or excluded, never imported) component once; the first place its code runs. */
  async #importOnce(record: Record_<C, M>): Promise<void> {
    if (record.component || record.imported) return;
    if (record.status !== 'declared' && record.status !== 'excluded') return;
    record.imported = true;
    const wasExcluded = record.status === 'excluded';
    const reason = record.reason;
    await this.#registerOne(record);
    // #registerOne set the status: TypeScript still narrows it to the values checked above.
    if (wasExcluded && (record.status as ComponentStatus) === 'registered') {
      record.status = 'excluded';
      if (reason) record.reason = reason;
    }
  }

  async #registerOne(record: Record_<C, M>): Promise<void> {
    const { entry } = record.found;
    let exported: Record<string, unknown>;
    try {
      exported = await import(pathToFileURL(entry).href);
    } catch (err) {
      this.#skip(record, 'failed', `cannot import ${entry}: ${importProblem(err, entry)}`);
      return;
    }
    const component = exportedComponent(exported, (c) => !this.definition.checkComponent?.(c as C)) as C | undefined;
    const problem = component === undefined || component === null || typeof component !== 'object'
      ? `its entry module ${entry} exports no component (a 'default' or 'component' export)`
      : this.definition.checkComponent?.(component);
    if (problem) {
      this.#skip(record, 'failed', problem);
      return;
    }
    record.component = component;
    try {
      component!.register?.(this.#registerContext(record));
    } catch (err) {
      record.component = undefined;
      this.#skip(record, 'failed', `register failed: ${(err as Error).message ?? err}`);
      return;
    }
    record.status = 'registered';
    this.hooks.registered.call(record);
  }

  #registerContext(record: Record_<C, M>): RegisterContext {
    const owner = { framework: this.name, component: record.name };
    return {
      framework: this.name,
      component: record.name,
      param: (spec) => this.mca.params.register({ ...spec, name: `${this.name}_${record.name}_${spec.name}`, owner }),
    };
  }

  #openContext(record: Record_<C, M>): OpenContext {
    return {
      framework: this.name,
      component: record.name,
      params: this.paramsOf(record.name),
      log: (message) => {
        if (this.verbose > 0) this.mca.log(`[mca:${this.name}:${record.name}] ${message}`);
      },
    };
  }

  /**
   * A component's step, bounded by mca_base_component_timeout: one that never ends (a device
   * that does not answer) fails instead of hanging the job. `late` gets what it resolves to
   * after it was given up.
   */
  async #bounded<T>(step: Promise<T> | T, what: string, late?: (value: T) => void): Promise<T> {
    const ms = this.mca.componentTimeoutMs;
    if (ms <= 0 || !(step instanceof Promise)) return step;
    let timer: NodeJS.Timeout | undefined;
    let gaveUp = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        reject(new Error(`${what} did not finish within ${ms} ms (mca_base_component_timeout)`));
      }, ms);
    });
    step.then(
      (value) => {
        if (gaveUp) late?.(value);
      },
      () => {},
    );
    try {
      return await Promise.race([step, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Modules an init returned after it was given up: finalized, never used. */
  #finalizeLate(modules: readonly M[] | void): void {
    for (const m of modules ?? []) {
      Promise.resolve()
        .then(() => this.definition.finalizeModule?.(m))
        .catch(() => {});
    }
  }

  async #closeQuietly(record: Record_<C, M>, errors: unknown[] = []): Promise<void> {
    try {
      await record.component?.close?.();
    } catch (err) {
      errors.push(err);
    }
  }

  #skip(record: Record_<C, M>, status: 'skipped' | 'failed' | 'unavailable', reason: string): void {
    record.status = status;
    record.reason = reason;
    if (status !== 'unavailable') this.mca.params.reservePrefix(`${this.name}_${record.name}_`);
    this.hooks.skipped.call(record, `${status}: ${reason}`);
  }

  #require(name: string): Record_<C, M> {
    const r = this.#records.get(name);
    if (!r) throw new McaSelectionError(`no ${this.name} component named '${name}'. Available: ${this.#availableList()}`);
    return r;
  }

  #availableList(): string {
    const names = this.records()
      .filter((r) => r.loadable || r.status === 'declared' || r.status === 'excluded')
      .map((r) => r.name)
      .sort();
    return names.length ? names.join(', ') : '(none)';
  }
}

/** What a step of a component threw (or a bound it overran), naming the step. */
function stepError(step: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith(step)) return err as Error;
  return new Error(`${step} threw: ${err instanceof Error ? `${err.name}: ${message}` : message}`, { cause: err });
}

/** An unload that completed (the component is closed) while its module finalize or close threw. */
export class UnloadError extends AggregateError {
  override readonly name = 'UnloadError';
  readonly code = 'ERR_SWITCHYARD_MCA_UNLOAD';
  constructor(
    framework: string,
    readonly component: string,
    errors: readonly Error[],
  ) {
    const count = errors.length === 1 ? 'an error' : `${errors.length} errors`;
    super(errors, `unloading ${framework} component '${component}' reported ${count}: ${errors.map((e) => e.message).join('; ')}`);
  }
}

/**
 * Why an import failed. V8 gives a SyntaxError of a module no location, so the entry is checked
 * again with `node --check`, which prints it (`/…/index.js:3`): where the author must look. A
 * mistake in a module the entry imports keeps the bare message.
 */
function importProblem(err: unknown, entry: string): string {
  const message = (err as Error)?.message ?? String(err);
  if (!(err instanceof SyntaxError)) return message;
  const check = spawnSync(process.execPath, ['--check', entry], { encoding: 'utf8', timeout: 10_000 });
  const at = /^(.+):(\d+)$/m.exec(check.stderr ?? '');
  return at ? `${message} (at ${at[1]}:${at[2]})` : message;
}
