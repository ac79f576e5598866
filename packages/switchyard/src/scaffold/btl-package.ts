import { makeFolders } from '@switchyard/runtime';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { version } from '../version.js';

/** The templates ship in the package (`files`), beside `src/` and `dist/`, so both find them here. */
export const BTL_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/btl/', import.meta.url));
const TEMPLATE_SUFFIX = '.tmpl';
/** npm drops a `.gitignore` from published tarballs, so the template is stored without the dot. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' };

/** A component name as the `btl` parameter and `btl_<name>_*` parameters need it. */
export const COMPONENT_NAME = /^[a-z][a-z0-9_]*$/;
/** Names that would collide with the framework's own parameters (`btl_base_*`) or selection words. */
const RESERVED = new Set(['base', 'all', 'none']);
const SCOPE = /^@[a-z0-9][a-z0-9._-]*$/;

export class ScaffoldError extends Error {
  override readonly name = 'ScaffoldError';
}

export interface BtlPackageOptions {
  /** The component name, e.g. `uds`. */
  readonly name: string;
  /** Where to write the package; must not exist or be empty. */
  readonly dir: string;
  /** npm scope for the package name (`@acme` gives `@acme/switchyard-btl-NAME`). */
  readonly scope?: string;
  /** The README's install step (default `npm install`; from a checkout, an install of its own packages). */
  readonly install?: string;
}

/** What was wrong with a component name, or undefined. */
export function checkComponentName(name: string): string | undefined {
  if (!COMPONENT_NAME.test(name)) {
    const suggestion = name.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '');
    return (
      `'${name}' is not a valid component name: use lower-case letters, digits and '_', starting with a letter` +
      `${suggestion ? ` (e.g. '${suggestion}')` : ''}; users select it as btl=NAME and set btl_NAME_* parameters`
    );
  }
  if (RESERVED.has(name)) return `'${name}' is reserved (btl_${name}_* or btl=${name} already mean something); pick another name`;
  return undefined;
}

export function packageNameFor(name: string, scope?: string): string {
  if (scope !== undefined && !SCOPE.test(scope)) throw new ScaffoldError(`--scope takes an npm scope such as @acme, got '${scope}'`);
  return scope ? `${scope}/switchyard-btl-${name}` : `switchyard-btl-${name}`;
}

/** `my_fast_link` → `MyFastLinkModule`. */
export function moduleClassName(name: string): string {
  return `${name.split('_').filter(Boolean).map((p) => p[0]!.toUpperCase() + p.slice(1)).join('')}Module`;
}

/**
 * Writes a ready-to-publish BTL package: declaration, skeleton, README and the conformance test.
 * Returns the files written, relative to `dir`.
 */
export function writeBtlPackage(options: BtlPackageOptions): string[] {
  const problem = checkComponentName(options.name);
  if (problem) throw new ScaffoldError(problem);
  const packageName = packageNameFor(options.name, options.scope);
  if (existsSync(options.dir)) {
    if (!statSync(options.dir).isDirectory()) throw new ScaffoldError(`${options.dir} exists and is not a directory`);
    const present = readdirSync(options.dir);
    if (present.length) {
      throw new ScaffoldError(
        `${options.dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}): give an empty or new directory`,
      );
    }
  }
  const values: Record<string, string> = {
    name: options.name,
    packageName,
    className: moduleClassName(options.name),
    // The published packages move together; the BTL accepts any release of this minor line.
    coreRange: `^${version}`,
    install: options.install ?? 'npm install',
  };
  const written: string[] = [];
  for (const template of templateFiles(BTL_TEMPLATE_DIR)) {
    const rel = relative(BTL_TEMPLATE_DIR, template).slice(0, -TEMPLATE_SUFFIX.length);
    const target = join(options.dir, RENAMED[rel] ?? rel);
    makeFolders(dirname(target));
    writeFileSync(target, fill(readFileSync(template, 'utf8'), values, rel));
    written.push(relative(options.dir, target));
  }
  return written.sort();
}

function fill(text: string, values: Record<string, string>, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${file} uses unknown placeholder {{${key}}}`);
    return value;
  });
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return templateFiles(path);
    return e.name.endsWith(TEMPLATE_SUFFIX) ? [path] : [];
  });
}
