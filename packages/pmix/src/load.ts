import { fileURLToPath } from 'node:url';
import { addonLoader } from '@switchyard/btl-base';
import { NATIVE_ABI_VERSION, type NativePmix } from './native.js';

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

export interface LoadOptions {
  /** A `.node` file or a folder node-gyp-build searches. Default: $SWITCHYARD_PMIX_ADDON, else this package. */
  readonly path?: string;
}

const loader = addonLoader<NativePmix>({
  packageRoot: PACKAGE_ROOT,
  pathEnv: ADDON_PATH_ENV,
  abiVersion: NATIVE_ABI_VERSION,
  unavailable: (reason, cause) => new PmixUnavailableError(reason, cause),
});

/** The addon, or throws PmixUnavailableError (code ERR_PMIX_UNAVAILABLE, with `cause`). */
export function loadNative(options: LoadOptions = {}): NativePmix {
  return loader.load(options);
}

/** True when the compiled addon loads (libpmix present at build and run time). */
export function nativeAvailable(options: LoadOptions = {}): boolean {
  return loader.available(options);
}
