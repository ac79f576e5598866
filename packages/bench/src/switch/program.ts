import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled rank program: beside this module when it runs from `dist/switch/`; when it
 * runs from the TypeScript sources (tests), the built copy in the package's `dist/switch/`.
 */
export function rankProgram(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'rank.js'), join(here, '..', '..', 'dist', 'switch', 'rank.js')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`the switch bench's rank program is not built (looked in ${candidates.join(', ')}); run 'npm run build'`);
  return found;
}
