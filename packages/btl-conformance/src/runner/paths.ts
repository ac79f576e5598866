import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kit's package folder: this file is src/runner/paths.ts or dist/runner/paths.js in it. */
export const KIT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The companion BTL's package folder (its code is in dist/companion). */
export const COMPANION_DIR = join(KIT_ROOT, 'companion');

/** A rank script of the kit; ranks run plain JavaScript, so the kit must be built. */
export function rankScript(name: 'contract-rank' | 'traffic-rank' | 'side-rank'): string {
  const path = join(KIT_ROOT, 'dist', 'rank', `${name}.js`);
  const companion = join(KIT_ROOT, 'dist', 'companion', 'component.js');
  if (!existsSync(path) || !existsSync(companion)) {
    throw new Error(
      `@switchyard/btl-conformance is not built: ${existsSync(path) ? companion : path} is missing (run 'npm run build' or 'tsc -b' in ` +
        `${KIT_ROOT})`,
    );
  }
  return path;
}

/** The `switchyard` CLI the kit launches jobs and control verbs with. */
export function switchyardCli(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@switchyard/mpi/package.json')), 'bin', 'switchyard.js');
}
