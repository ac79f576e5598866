import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { NATIVE_ABI_VERSION, type NativePmix } from './native.js';

const require = createRequire(import.meta.url);

/** The package root (this file is src/load.ts or dist/load.js). */
const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Overrides where the addon is looked for (tests, or a hand-built binary). */
export const ADDON_PATH_ENV = 'SWITCHYARD_PMIX_ADDON';

export const ERR_PMIX_UNAVAILABLE = 'ERR_PMIX_UNAVAILABLE';

/** The PMIx addon cannot be loaded here; `reason` says why and the message how to fix it. */
export class PmixUnavailableError extends Error {
  override readonly name = 'PmixUnavailableError';
  readonly code = ERR_PMIX_UNAVAILABLE;

  constructor(readonly reason: string, cause: unknown) {
    super(
      `@switchyard/pmix: the PMIx addon is unavailable: ${reason}. ` +
        'It needs libpmix (install libpmix-dev, pkg-config and a C compiler, then run ' +
        '`npm rebuild @switchyard/pmix`); if npm blocked the package\'s install script, run ' +
        '`npm install-scripts approve @switchyard/pmix` first.',
      { cause },
    );
  }
}

type Outcome = { readonly addon: NativePmix } | { readonly error: PmixUnavailableError };

const outcomes = new Map<string, Outcome>();

function attempt(location: string): Outcome {
  let addon: NativePmix;
  try {
    addon = (location.endsWith('.node') ? require(location) : require('node-gyp-build')(location)) as NativePmix;
  } catch (err) {
    return { error: new PmixUnavailableError(firstLine(err), err) };
  }
  if (addon.abiVersion !== NATIVE_ABI_VERSION) {
    const reason = `the built addon speaks ABI ${String(addon.abiVersion)}, this code needs ${NATIVE_ABI_VERSION} (a stale build)`;
    return { error: new PmixUnavailableError(reason, new Error(reason)) };
  }
  return { addon };
}

export interface LoadOptions {
  /** A `.node` file or a folder node-gyp-build searches. Default: $SWITCHYARD_PMIX_ADDON, else this package. */
  readonly path?: string;
}

/** The addon, or throws PmixUnavailableError (code ERR_PMIX_UNAVAILABLE, with `cause`). */
export function loadNative(options: LoadOptions = {}): NativePmix {
  const location = options.path ?? process.env[ADDON_PATH_ENV] ?? PACKAGE_ROOT;
  let result = outcomes.get(location);
  if (!result) {
    result = attempt(location);
    outcomes.set(location, result);
  }
  if ('error' in result) throw result.error;
  return result.addon;
}

/** True when the compiled addon loads (libpmix present at build and run time). */
export function nativeAvailable(options: LoadOptions = {}): boolean {
  try {
    loadNative(options);
    return true;
  } catch {
    return false;
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}
