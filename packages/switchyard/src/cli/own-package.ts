import { realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where this installation keeps Switchyard's packages: the folder holding this package (the
 * `@switchyard` scope of a node_modules, or a checkout's `packages/`), real path.
 */
const OWN_SCOPE = dirname(realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..')));

/**
 * Imports an optional package of Switchyard's (btl-openib's admin library, the bench) only when
 * it is installed with this one: Node would also take it from the node_modules of any folder
 * above, which nobody invited (docs/security.md). Undefined when it is not installed here.
 */
export async function importOwnPackage<T>(specifier: string): Promise<T | undefined> {
  let url: string;
  try {
    url = import.meta.resolve(specifier);
  } catch {
    return undefined;
  }
  let file: string;
  try {
    file = realpathSync(fileURLToPath(url));
  } catch {
    return undefined;
  }
  if (!file.startsWith(OWN_SCOPE + sep)) return undefined;
  return (await import(url)) as T;
}
