import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The programs the bench starts in processes of their own. */
export type BenchProgram = 'switchyard-rank' | 'raw-tcp-peer' | 'coll/rank' | 'checkpoint-rank';

/**
 * The compiled file of a bench program: beside this module when it runs from `dist/`; when
 * it runs from the TypeScript sources (tests), the built copy in the package's `dist/`.
 */
export function benchProgram(name: BenchProgram): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, `${name}.js`), join(here, '..', 'dist', `${name}.js`)];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`the bench program ${name}.js is not built (looked in ${candidates.join(', ')}); run 'npm run build'`);
  return found;
}
