import { type Dirent, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { findProjectRoot } from './project-root.js';
import { firstUntrusted, STRICT_TRUST, type TrustPolicy } from './trust.js';

/**
 * The declaration a component package carries in its package.json:
 *
 * ```json
 * "mca": { "framework": "btl", "component": "tcp", "api": "^1.0.0" }
 * ```
 *
 * `api` is the semver range of framework API versions the component supports; `entry`
 * (optional) is the module to import, relative to the package, when it is not the package's
 * main export.
 */
export interface ComponentManifest {
  readonly framework: string;
  readonly component: string;
  readonly api: string;
  readonly entry?: string;
}

export const MANIFEST_KEY = 'mca';

/** A component package found on disk, not yet imported. */
export interface FoundComponent {
  readonly manifest: ComponentManifest;
  readonly packageName: string;
  readonly version: string;
  /** The package folder (real path). */
  readonly dir: string;
  /** The module file to import. */
  readonly entry: string;
  /** The node_modules folder, project root or component path entry it was found under. */
  readonly foundIn: string;
  readonly via: ComponentVia;
  /**
   * It is one of switchyard's own installation's packages, however it was reached first (a
   * project that depends on switchyard has them in its own node_modules too).
   */
  readonly firstParty: boolean;
}

/**
 * How a component was reached: `mca_component_path`; the project's own node_modules; a
 * dependency the project's package.json declares (resolved as Node would); switchyard's own
 * installation (first-party); or the project itself being a component package.
 */
export type ComponentVia = 'component-path' | 'node_modules' | 'dependency' | 'installation' | 'application';

/** A package not used because another of the same framework and name is: `usedInstead` is that one's folder. */
export interface ShadowedComponent extends FoundComponent {
  readonly usedInstead: string;
}

/** A component package the trust check refused: listed with the reason, never imported. */
export interface RefusedComponent extends FoundComponent {
  readonly reason: string;
}

/** A package that declares a component but cannot be one (bad declaration): shown by `info`. */
export interface DiscoveryProblem {
  readonly dir: string;
  readonly packageName?: string;
  readonly reason: string;
}

/** A folder discovery looked in, and why it belongs to the search (for `info`). */
export interface SearchedFolder {
  readonly folder: string;
  readonly via: ComponentVia;
}

export interface DiscoveryOptions {
  /** Folders the application runs from: the project root of each is searched (see findProjectRoot). */
  readonly from: readonly string[];
  /**
   * Folders inside switchyard's installation: the first-party (`@switchyard/*`) packages next to
   * each are searched. More than one in an isolated layout (npm's `--install-strategy=linked`,
   * pnpm), where each package sees only its own dependencies beside it: the transports are next
   * to `@switchyard/mpi`, which depends on them, not next to this package.
   */
  readonly installation?: string | readonly string[];
  /** `mca_component_path` entries: folders of packages, or package folders. Searched first. */
  readonly componentPath?: readonly string[];
  /** Who may own and write a component package; default: the user and root only. */
  readonly trust?: TrustPolicy;
}

export interface DiscoveryResult {
  readonly found: FoundComponent[];
  /** Other finds of a component found (same framework and name): shadowed, not used. */
  readonly shadowed: ShadowedComponent[];
  /** Packages another user could have changed: never imported. */
  readonly refused: RefusedComponent[];
  readonly problems: DiscoveryProblem[];
  /** The project roots the search started from. */
  readonly projectRoots: string[];
  readonly searched: SearchedFolder[];
}

const FIRST_PARTY_SCOPE = '@switchyard';
const DEPENDENCY_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies'] as const;

/**
 * Finds component packages by reading package.json files only (nothing is imported): the
 * component path, then each project's root, its own node_modules and the dependencies its
 * package.json declares, then switchyard's installation. Never the node_modules of folders above
 * the project, which anyone may be able to write. First find of a framework/component pair wins,
 * but a first-party name is taken only on the component path; a package that fails the trust
 * check is refused and takes no name.
 */
export function discoverComponents(options: DiscoveryOptions): DiscoveryResult {
  const result: DiscoveryResult = { found: [], shadowed: [], refused: [], problems: [], projectRoots: [], searched: [] };
  const trust = options.trust ?? STRICT_TRUST;
  const seenDirs = new Set<string>();
  const candidates: FoundComponent[] = [];
  const installations = typeof options.installation === 'string' ? [options.installation] : (options.installation ?? []);
  const installationScopes = [...new Set(installations.flatMap((i) => nearestScope(resolve(i)) ?? []))];
  const installationReals = new Set(installationScopes.flatMap((scope) => realpathOrUndefined(scope) ?? []));
  // Where these packages really are: their siblings there are switchyard's own (a `file:` install, the repository).
  const ownSiblings = new Set(installations.flatMap((i) => realParentOfPackage(resolve(i)) ?? []));
  /** The package folder sits in an installation's @switchyard folder (by path, or by real path), or beside one of its packages. */
  const inInstallation = (dir: string, real: string): boolean => {
    if (ownSiblings.has(dirname(real))) return true;
    const parent = dirname(resolve(dir));
    if (installationScopes.includes(parent)) return true;
    const parentReal = installationReals.size ? realpathOrUndefined(parent) : undefined;
    return parentReal !== undefined && installationReals.has(parentReal);
  };
  const consider = (dir: string, foundIn: string, via: ComponentVia) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    const read = readManifest(real);
    if (!read) return;
    if ('reason' in read) {
      result.problems.push(read);
      return;
    }
    // Where it sits is not enough: an npm alias puts any package in the @switchyard folder.
    const ownName = read.packageName === `${FIRST_PARTY_SCOPE}/${basename(real)}`;
    const found: FoundComponent = { ...read, foundIn, via, firstParty: ownName && (via === 'installation' || inInstallation(dir, real)) };
    const between = dirname(dir) !== foundIn ? [foundIn, dirname(dir)] : [foundIn];
    // The entry's own folder too: one outside the package (`"main": "../x.js"`), or a dist/ others may write, would let them swap it.
    // `dir` as found too: in a sticky folder, a symbolic link there is only followed when its owner is trusted.
    const reason =
      firstUntrusted([dir, real, join(real, 'package.json'), dirname(found.entry), found.entry], trust, between) ??
      firstUntrusted(packageCode(real), trust);
    if (reason) {
      result.refused.push({ ...found, reason });
      return;
    }
    candidates.push(found);
  };
  const searchFolder = (folder: string, via: ComponentVia) => {
    if (!isDir(folder) || result.searched.some((s) => s.folder === folder)) return;
    result.searched.push({ folder, via });
    for (const pkg of packageDirs(folder)) consider(pkg, folder, via);
  };

  for (const entry of options.componentPath ?? []) {
    const dir = resolve(entry);
    result.searched.push({ folder: dir, via: 'component-path' });
    if (existsSync(join(dir, 'package.json'))) consider(dir, dir, 'component-path');
    else for (const pkg of packageDirs(dir)) consider(pkg, dir, 'component-path');
  }
  for (const start of options.from) {
    const root = findProjectRoot(start, trust);
    if (result.projectRoots.includes(root)) continue;
    result.projectRoots.push(root);
    // A component package run from its own folder (its author testing it) is found too.
    consider(root, root, 'application');
    searchFolder(join(root, 'node_modules'), 'node_modules');
    for (const name of declaredDependencies(root)) {
      const at = resolvePackage(root, name);
      if (at) consider(at.dir, at.foundIn, 'dependency');
    }
  }
  for (const scope of installationScopes) searchFolder(scope, 'installation');
  // One package per framework/component: the first found, except that a package in the project
  // never takes a name of switchyard's own (which of two a folder lists first is the file
  // system's whim); only a folder the user names on mca_component_path may replace one.
  const precedence = (c: FoundComponent) => (c.via === 'component-path' ? 0 : c.firstParty ? 1 : 2);
  const winners = new Map<string, FoundComponent>();
  for (const c of candidates) {
    const key = `${c.manifest.framework}/${c.manifest.component}`;
    const held = winners.get(key);
    if (!held || precedence(c) < precedence(held)) winners.set(key, c);
  }
  const kept = new Set(winners.values());
  for (const c of candidates) {
    if (kept.has(c)) result.found.push(c);
    else result.shadowed.push({ ...c, usedInstead: winners.get(`${c.manifest.framework}/${c.manifest.component}`)!.dir });
  }
  return result;
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Names in the project's package.json dependency fields. */
function declaredDependencies(root: string): string[] {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  } catch {
    return [];
  }
  const names = DEPENDENCY_FIELDS.flatMap((f) => (pkg[f] && typeof pkg[f] === 'object' ? Object.keys(pkg[f] as object) : []));
  return [...new Set(names)];
}

/** Where Node finds package `name` from `dir`: `node_modules/name` here or in an ancestor (for a declared name only). */
function resolvePackage(dir: string, name: string): { dir: string; foundIn: string } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (!d.endsWith('/node_modules')) {
      const modules = join(d, 'node_modules');
      if (existsSync(join(modules, name, 'package.json'))) return { dir: join(modules, name), foundIn: modules };
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The real folder holding the package `dir` is in (the nearest folder with a package.json). */
function realParentOfPackage(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) {
      const real = realpathOrUndefined(d);
      return real && dirname(real);
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The `node_modules/@switchyard` folder that holds the installation (the nearest one up from it). */
function nearestScope(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const scope = join(d, 'node_modules', FIRST_PARTY_SCOPE);
    if (isDir(scope)) return scope;
    if (dirname(d) === d) return undefined;
  }
}

/** Package folders directly in a node_modules-like folder, scoped ones included. */
function packageDirs(folder: string): string[] {
  const out: string[] = [];
  for (const name of safeReaddir(folder)) {
    if (name.startsWith('.')) continue;
    const path = join(folder, name);
    if (name.startsWith('@')) {
      for (const inner of safeReaddir(path)) if (!inner.startsWith('.')) out.push(join(path, inner));
    } else out.push(path);
  }
  return out;
}

/** Files Node may load as code, and the folders holding them: what the entry may import. */
const CODE_FILE = /\.(js|mjs|cjs|json|node|wasm)$/;
/** Enough for any package's own files; a walk that reaches it stops there rather than slow every rank's start. */
const MAX_PACKAGE_ENTRIES = 5000;

/**
 * A package's folders and code files, its own node_modules included (its dependencies are code
 * it imports), without following symbolic links to folders (the check looks at each link and
 * what it points to).
 */
function packageCode(root: string): string[] {
  const out: string[] = [];
  const pending = [root];
  while (pending.length && out.length < MAX_PACKAGE_ENTRIES) {
    const dir = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        out.push(path);
        pending.push(path);
      } else if (entry.isSymbolicLink() || CODE_FILE.test(entry.name)) out.push(path);
    }
  }
  return out;
}

function readManifest(dir: string): Omit<FoundComponent, 'foundIn' | 'via' | 'firstParty'> | DiscoveryProblem | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    return undefined;
  }
  // Most packages are not components: skip the JSON parse for them.
  if (!text.includes(`"${MANIFEST_KEY}"`)) return undefined;
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    return { dir, reason: `package.json does not parse: ${(err as Error).message}` };
  }
  const manifest = pkg[MANIFEST_KEY];
  if (manifest === undefined) return undefined;
  const packageName = typeof pkg.name === 'string' ? pkg.name : undefined;
  const bad = (reason: string): DiscoveryProblem => ({ dir, ...(packageName ? { packageName } : {}), reason });
  if (!manifest || typeof manifest !== 'object') return bad(`"${MANIFEST_KEY}" must be an object`);
  const m = manifest as Record<string, unknown>;
  for (const field of ['framework', 'component', 'api'] as const) {
    if (typeof m[field] !== 'string' || m[field] === '') {
      return bad(`"${MANIFEST_KEY}.${field}" is missing or not a string (see docs/components.md)`);
    }
  }
  if (!/^[a-z][a-z0-9_]*$/.test(m.component as string)) {
    return bad(`component name '${m.component}' must be lower case letters, digits and _ (it prefixes parameter names)`);
  }
  const entry = m.entry !== undefined ? String(m.entry) : mainEntry(pkg);
  return {
    manifest: {
      framework: m.framework as string,
      component: m.component as string,
      api: m.api as string,
      ...(m.entry ? { entry: String(m.entry) } : {}),
    },
    packageName: packageName ?? dir,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    dir,
    entry: resolve(dir, entry),
  };
}

/** The file `import(packageName)` would load: `exports['.']` (import/node/default), else `main`, else index.js. */
function mainEntry(pkg: Record<string, unknown>): string {
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) return target.map(pick).find(Boolean);
    if (target && typeof target === 'object') {
      for (const cond of ['import', 'node', 'default']) {
        const hit = pick((target as Record<string, unknown>)[cond]);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const exp = pkg.exports as unknown;
  const dot = exp && typeof exp === 'object' && !Array.isArray(exp) && '.' in exp ? (exp as Record<string, unknown>)['.'] : exp;
  return pick(dot) ?? (typeof pkg.main === 'string' ? pkg.main : 'index.js');
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
