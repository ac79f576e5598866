import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncHook } from 'tapable';
import type { McaComponent } from './component.js';
import { discoverComponents, type DiscoveryResult } from './discovery.js';
import { Framework, type FrameworkDefinition } from './framework.js';
import { loadSources, PARAM_FILES_NAME, type SourceFiles, type SourceOptions } from './load-sources.js';
import { ParamStore } from './param-store.js';
import { ParamRegistry, type Param } from './params.js';
import { describeSource } from './sources.js';
import { parseTrust, TRUST_HELP, TRUST_PARAM, type TrustPolicy } from './trust.js';

export interface McaOptions extends SourceOptions {
  /** Folders the application runs from (its own folder, its script's): their project roots are searched; default: cwd. */
  readonly searchFrom?: readonly string[];
  /** Where diagnostics go; default: stderr. */
  readonly log?: (line: string) => void;
  /** Log configuration warnings (default true); the hook fires either way. */
  readonly warnings?: boolean;
  /**
   * Folders of other switchyard packages whose `@switchyard/*` neighbours are first-party too
   * (`@switchyard/mpi` passes its own: in an isolated install the transports sit beside it only).
   */
  readonly installation?: readonly string[];
}

const OWN_DIR = dirname(fileURLToPath(import.meta.url));

/** What the MCA base reports to its plugins (`switchyard info`, the default log). */
export type McaHooks = {
  /** A configuration warning (e.g. an unknown parameter); the default log writes it to stderr. */
  readonly warning: SyncHook<[string]>;
};

/**
 * The MCA base of one process: its parameters from every source, component discovery, and its
 * frameworks. Create it with {@link Mca.load}; add frameworks with {@link Mca.framework}.
 */
export class Mca {
  readonly hooks: McaHooks = Object.freeze({ warning: new SyncHook<[string]>(['message']) });
  readonly params: ParamRegistry;
  readonly files: SourceFiles;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- frameworks of every component type
  readonly #frameworks = new Map<string, Framework<any, any, any>>();
  readonly #searchFrom: readonly string[];
  readonly #cwd: string;
  readonly #installation: readonly string[];
  readonly #log: (line: string) => void;
  readonly #componentPath: Param<'list'>;
  readonly #trust: Param<'list'>;
  readonly #verbose: Param<'integer'>;
  readonly #stepTimeout: Param<'integer'>;
  #discovery?: DiscoveryResult;

  /** Reads every parameter source; throws McaConfigError (with every problem) if any is bad. */
  static async load(options: McaOptions = {}): Promise<Mca> {
    const { store, files } = await loadSources(options);
    return new Mca(store, files, options);
  }

  constructor(store: ParamStore, files: SourceFiles, options: McaOptions = {}) {
    this.params = new ParamRegistry(store);
    this.files = files;
    this.#cwd = options.cwd ?? process.cwd();
    this.#searchFrom = options.searchFrom ?? [this.#cwd];
    this.#installation = options.installation ?? [];
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const owner = { framework: 'mca' };
    this.#componentPath = this.params.register({
      name: 'mca_component_path',
      type: 'list',
      default: [],
      help:
        'Extra folders to search for component packages, before the project\'s node_modules (":" or "," separated). ' +
        'Each is a package folder or a folder of packages.',
      owner,
    });
    this.#trust = this.params.register({
      name: TRUST_PARAM,
      type: 'list',
      default: [],
      help: TRUST_HELP,
      validate: (v) => {
        try {
          parseTrust(v);
        } catch (err) {
          return (err as Error).message;
        }
      },
      owner,
    });
    this.#verbose = this.params.register({
      name: 'mca_base_verbose',
      type: 'integer',
      default: 0,
      min: 0,
      help: 'Above 0, every framework traces its lifecycle hooks (register, open, init, finalize, close) to stderr.',
      level: 'developer',
      owner,
    });
    this.#stepTimeout = this.params.register({
      name: 'mca_base_component_timeout',
      type: 'integer',
      default: 30_000,
      min: 0,
      help:
        "How long (ms) a component's open or init may take before it counts as failed (left out, unless the selection names " +
        "it), and its modules' finalize or its close when it is unloaded (it is unloaded all the same, with an error); 0: no bound.",
      level: 'tuner',
      owner,
    });
    this.params.register({
      name: PARAM_FILES_NAME,
      type: 'list',
      default: [],
      help: "mca-params.conf files to read (':' separated; the leftmost wins; 'none' for none). Default: the project's own " +
        'mca-params.conf, if any.',
      level: 'tuner',
      owner,
    });
    if (options.warnings !== false) this.hooks.warning.tap('log', (message) => this.#log(`switchyard: warning: ${message}`));
  }

  get verbose(): number {
    return this.#verbose.value;
  }

  /** How long a component's open or init may take (ms; 0: unbounded). */
  get componentTimeoutMs(): number {
    return this.#stepTimeout.value;
  }

  log(line: string): void {
    this.#log(line);
  }

  /** The framework of that definition, created on first use. */
  framework<C extends McaComponent<M, I>, M, I>(definition: FrameworkDefinition<C, M, I>): Framework<C, M, I> {
    const existing = this.#frameworks.get(definition.name);
    if (existing) {
      if (existing.definition !== definition && existing.apiVersion !== definition.apiVersion) {
        throw new Error(`framework '${definition.name}' already exists with API ${existing.apiVersion}`);
      }
      return existing as Framework<C, M, I>;
    }
    const framework = new Framework<C, M, I>(definition, this);
    this.#frameworks.set(definition.name, framework);
    return framework;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- frameworks of every component type
  frameworks(): Framework<any, any, any>[] {
    return [...this.#frameworks.values()];
  }

  /**
   * Component packages on the component path, in the project's own scope and in switchyard's
   * installation, read from their package.json files (cached; nothing is imported).
   */
  discover(): DiscoveryResult {
    this.#discovery ??= discoverComponents({
      from: this.#searchFrom,
      installation: [OWN_DIR, ...this.#installation],
      componentPath: this.#componentPathFolders(),
      trust: this.trust,
    });
    return this.#discovery;
  }

  /** Relative folders are the file's that names them, as with mca_param_files; or where the command runs. */
  #componentPathFolders(): string[] {
    const { file } = this.#componentPath.info();
    const base = file ? dirname(file) : this.#cwd;
    return this.#componentPath.value.flatMap((p) => p.split(':')).filter(Boolean).map((p) => resolve(base, p));
  }

  /** Whose files are trusted (`mca_base_trust`); an invalid value is reported by checkParams, and trusts nobody more. */
  get trust(): TrustPolicy {
    try {
      return parseTrust(this.#trust.value);
    } catch {
      return parseTrust([]);
    }
  }

  clearDiscovery(): void {
    this.#discovery = undefined;
  }

  /**
   * After every framework registered its components: throws every type error together, and
   * warns (through `hooks.warning`) about settings nobody declared, with the closest name.
   * Returns the warnings.
   */
  checkParams(): string[] {
    this.params.assertValid();
    // A component that was declared but not imported (not selected) has not declared its parameters yet.
    const unimported = this.frameworks().flatMap((fw) =>
      fw.records().filter((r) => !r.imported).map((r) => `${fw.name}_${r.name}_`),
    );
    const known = this.params.unknownSettings().filter(({ setting }) => !unimported.some((p) => setting.name.startsWith(p)));
    const warnings = known.map(({ setting, suggestion }) => {
      const where = describeSource(setting);
      return `unknown MCA parameter '${setting.name}' from ${where}` + (suggestion ? `; did you mean '${suggestion}'?` : '');
    });
    for (const w of warnings) this.hooks.warning.call(w);
    return warnings;
  }
}
