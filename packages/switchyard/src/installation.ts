import { fileURLToPath } from 'node:url';

/**
 * This package's folder, for the MCA's component discovery (`McaOptions.installation`): in an
 * isolated install (npm's `--install-strategy=linked`, pnpm) the transports it depends on sit
 * beside it only, not beside `@switchyard/mca`.
 */
export const INSTALLATION: readonly string[] = [fileURLToPath(new URL('..', import.meta.url))];
