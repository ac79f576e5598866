import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstUntrusted, type TrustPolicy } from './trust.js';

/** A package found where it may be taken from: its entry file and folder; or why its files were refused. */
export type TrustedPackage = { readonly file: string; readonly dir: string } | { readonly refused: string };

/**
 * The entry of package `name` as Node would resolve it from each of `fromFiles` in turn, taken
 * only when it lies inside one of `roots`: Node's lookup also walks the node_modules of every
 * folder above them, which nobody invited. The package gets the components' trust check (its
 * folder, package.json and entry, and the node_modules it sits in). Undefined: not installed
 * inside any root.
 */
export function resolveTrustedPackage(
  name: string,
  fromFiles: readonly string[],
  roots: readonly string[],
  trust?: TrustPolicy,
): TrustedPackage | undefined {
  for (const from of fromFiles) {
    let file: string;
    try {
      file = realpathSync(createRequire(from).resolve(name));
    } catch {
      continue; // not installed there
    }
    if (!roots.some((root) => file.startsWith(root + sep))) continue;
    const marker = `${sep}node_modules${sep}${name}`;
    const at = file.lastIndexOf(`${marker}${sep}`);
    const pkg = at >= 0 ? file.slice(0, at + marker.length) : dirname(file);
    const reason = trust && firstUntrusted([pkg, join(pkg, 'package.json'), file], trust, [dirname(pkg)]);
    return reason ? { refused: reason } : { file, dir: pkg };
  }
  return undefined;
}

/**
 * The project Switchyard is installed in: the folder above the first `node_modules` of this
 * package's real path, or in a checkout the workspace root (the nearest package.json with workspaces).
 */
export function installingProject(): string | undefined {
  const own = realpathSync(dirname(fileURLToPath(import.meta.url)));
  const at = own.indexOf(`${sep}node_modules${sep}`);
  if (at >= 0) return own.slice(0, at);
  for (let dir = own; ; dir = dirname(dir)) {
    if (hasWorkspaces(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function hasWorkspaces(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined;
  } catch {
    return false;
  }
}

/**
 * The file `import('<package>/<subpath>')` loads from the package in `dir`: its exports' import
 * condition (require.resolve would give the CommonJS one, which is not always equivalent).
 */
export function esmExportOf(dir: string, subpath: string): string | undefined {
  let manifest: { exports?: Record<string, unknown> };
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof manifest;
  } catch {
    return undefined;
  }
  const target = manifest.exports?.[`./${subpath}`] as { import?: string | { default?: string } } | string | undefined;
  const file = typeof target === 'string' ? target : typeof target?.import === 'string' ? target.import : target?.import?.default;
  return file ? join(dir, file) : undefined;
}
