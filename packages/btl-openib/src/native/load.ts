import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { VerbsError } from '../verbs/errors.js';
import { NATIVE_ABI_VERSION, type NativeAddon } from './addon.js';

const require = createRequire(import.meta.url);

/** The package root (this file is src/native/load.ts or dist/native/load.js). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Overrides where the addon is looked for (tests, or a hand-built binary). */
export const ADDON_PATH_ENV = 'SWITCHYARD_BTL_OPENIB_ADDON';

export const ERR_BTL_OPENIB_UNAVAILABLE = 'ERR_BTL_OPENIB_UNAVAILABLE';

export interface LoadOptions {
  /**
   * A `.node` file, or a directory that node-gyp-build searches (build/Release, then
   * prebuilds/<platform>-<arch>). Default: $SWITCHYARD_BTL_OPENIB_ADDON, else this package.
   */
  readonly path?: string;
}

/** The native verbs addon cannot be loaded here; `cause` says why. */
export class NativeUnavailableError extends Error {
  override readonly name = 'NativeUnavailableError';
  readonly code = ERR_BTL_OPENIB_UNAVAILABLE;

  constructor(readonly reason: string, cause: unknown) {
    super(
      `btl-openib: the native verbs addon is unavailable: ${reason}. ` +
        'It needs libibverbs (install libibverbs-dev, or rdma-core-devel, and a C++ compiler, then run ' +
        '`npm rebuild @switchyard/btl-openib`); if npm blocked the package\'s install script, run ' +
        '`npm install-scripts approve @switchyard/btl-openib` first.',
      { cause },
    );
  }
}

type Outcome = { readonly addon: NativeAddon } | { readonly error: NativeUnavailableError };

/** One attempt per location: loading a .node file is not something to retry on every call. */
const outcomes = new Map<string, Outcome>();

function attempt(location: string): Outcome {
  let addon: NativeAddon;
  try {
    addon = (location.endsWith('.node') ? require(location) : require('node-gyp-build')(location)) as NativeAddon;
  } catch (err) {
    return { error: new NativeUnavailableError(firstLine(err), err) };
  }
  if (addon.abiVersion !== NATIVE_ABI_VERSION) {
    const reason = `the built addon speaks ABI ${String(addon.abiVersion)}, this code needs ${NATIVE_ABI_VERSION} (a stale build)`;
    return { error: new NativeUnavailableError(reason, new Error(reason)) };
  }
  addon.init(VerbsError);
  return { addon };
}

function outcome(options: LoadOptions): Outcome {
  const location = options.path ?? process.env[ADDON_PATH_ENV] ?? PACKAGE_ROOT;
  let result = outcomes.get(location);
  if (!result) {
    result = attempt(location);
    outcomes.set(location, result);
  }
  return result;
}

/** True when the compiled addon loads (libibverbs present at build and run time). */
export function nativeAvailable(options: LoadOptions = {}): boolean {
  return 'addon' in outcome(options);
}

/** The addon, or throws NativeUnavailableError (code ERR_BTL_OPENIB_UNAVAILABLE, with `cause`). */
export function loadNative(options: LoadOptions = {}): NativeAddon {
  const result = outcome(options);
  if ('error' in result) throw result.error;
  return result.addon;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}
