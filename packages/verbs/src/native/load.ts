import { fileURLToPath } from 'node:url';
import { addonLoader } from '@switchyard/btl-base';
import { VerbsError } from '../errors.js';
import { NATIVE_ABI_VERSION, type NativeAddon } from './addon.js';

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
      `@switchyard/verbs: the native verbs addon is unavailable: ${reason}. ` +
        'It needs libibverbs (install libibverbs-dev, or rdma-core-devel, and a C++ compiler, then run ' +
        '`npm rebuild @switchyard/verbs`); if npm blocked the package\'s install script, run ' +
        '`npm install-scripts approve @switchyard/verbs` first.',
      { cause },
    );
  }
}

const loader = addonLoader<NativeAddon>({
  packageRoot: PACKAGE_ROOT,
  pathEnv: ADDON_PATH_ENV,
  abiVersion: NATIVE_ABI_VERSION,
  unavailable: (reason, cause) => new NativeUnavailableError(reason, cause),
  setup: (addon) => addon.init(VerbsError),
});

/** True when the compiled addon loads (libibverbs present at build and run time). */
export function nativeAvailable(options: LoadOptions = {}): boolean {
  return loader.available(options);
}

/** The addon, or throws NativeUnavailableError (code ERR_BTL_OPENIB_UNAVAILABLE, with `cause`). */
export function loadNative(options: LoadOptions = {}): NativeAddon {
  return loader.load(options);
}
