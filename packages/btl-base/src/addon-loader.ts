import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** How one package finds, checks and explains its compiled Node-API addon. */
export interface AddonSpec<A extends { readonly abiVersion: number }> {
  /** Where node-gyp-build looks by default: the package root (build/Release, prebuilds/). */
  readonly packageRoot: string;
  /** The environment variable that overrides it (tests, or a hand-built binary). */
  readonly pathEnv: string;
  /** The addon surface the TypeScript expects; a build speaking another is stale. */
  readonly abiVersion: number;
  /** The package's own error (with its `code` and how to fix it) for `reason`. */
  unavailable(reason: string, cause: unknown): Error;
  /** Runs once after a load that passed the ABI check. */
  setup?(addon: A): void;
}

export interface AddonLoadOptions {
  /** A `.node` file, or a folder node-gyp-build searches. Default: the spec's env variable, else the package. */
  readonly path?: string;
}

export interface AddonLoader<A> {
  /** The addon, or throws the spec's unavailable error. */
  load(options?: AddonLoadOptions): A;
  /** True when the compiled addon loads here. */
  available(options?: AddonLoadOptions): boolean;
}

type Outcome<A> = { readonly addon: A } | { readonly error: Error };

/** A loader that tries each location once: loading a .node file is not something to retry on every call. */
export function addonLoader<A extends { readonly abiVersion: number }>(spec: AddonSpec<A>): AddonLoader<A> {
  const outcomes = new Map<string, Outcome<A>>();
  const attempt = (location: string): Outcome<A> => {
    let addon: A;
    try {
      addon = (location.endsWith('.node') ? require(location) : require('node-gyp-build')(location)) as A;
    } catch (err) {
      return { error: spec.unavailable(firstLine(err), err) };
    }
    if (addon.abiVersion !== spec.abiVersion) {
      const reason = `the built addon speaks ABI ${String(addon.abiVersion)}, this code needs ${spec.abiVersion} (a stale build)`;
      return { error: spec.unavailable(reason, new Error(reason)) };
    }
    spec.setup?.(addon);
    return { addon };
  };
  const outcome = (options: AddonLoadOptions = {}): Outcome<A> => {
    const location = options.path ?? process.env[spec.pathEnv] ?? spec.packageRoot;
    let result = outcomes.get(location);
    if (!result) {
      result = attempt(location);
      outcomes.set(location, result);
    }
    return result;
  };
  return {
    load(options) {
      const result = outcome(options);
      if ('error' in result) throw result.error;
      return result.addon;
    },
    available: (options) => 'addon' in outcome(options),
  };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}
