import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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
  /** The node_modules folder or component path entry it was found under. */
  readonly foundIn: string;
  readonly via: 'component-path' | 'node_modules' | 'application';
}

/** A package that declares a component but cannot be one (bad declaration): shown by `info`. */
export interface DiscoveryProblem {
  readonly dir: string;
  readonly packageName?: string;
  readonly reason: string;
}

export interface DiscoveryOptions {
  /** Folders an application resolves packages from: each and every ancestor's node_modules is searched. */
  readonly from: readonly string[];
  /** `mca_component_path` entries: folders of packages, or package folders. Searched first. */
  readonly componentPath?: readonly string[];
}

export interface DiscoveryResult {
  readonly found: FoundComponent[];
  /** Later finds of a component already found (same framework and name): shadowed, not used. */
  readonly shadowed: FoundComponent[];
  readonly problems: DiscoveryProblem[];
}

/**
 * Finds component packages the way Node would resolve them from the application, plus the
 * explicit component path. First find of a framework/component pair wins: component path entries
 * in order, then node_modules folders nearest first.
 */
export function discoverComponents(options: DiscoveryOptions): DiscoveryResult {
  const result: DiscoveryResult = { found: [], shadowed: [], problems: [] };
  const seenDirs = new Set<string>();
  const seenComponents = new Set<string>();
  const consider = (dir: string, foundIn: string, via: FoundComponent['via']) => {
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
    const found: FoundComponent = { ...read, foundIn, via };
    const key = `${found.manifest.framework}/${found.manifest.component}`;
    if (seenComponents.has(key)) result.shadowed.push(found);
    else {
      seenComponents.add(key);
      result.found.push(found);
    }
  };

  for (const entry of options.componentPath ?? []) {
    const dir = resolve(entry);
    if (existsSync(join(dir, 'package.json'))) consider(dir, dir, 'component-path');
    else for (const pkg of packageDirs(dir)) consider(pkg, dir, 'component-path');
  }
  for (const start of options.from) {
    const root = nearestPackageRoot(resolve(start));
    // A component package run from its own folder (its author testing it) is found too.
    if (root) consider(root, root, 'application');
    for (const modules of nodeModulesChain(resolve(start))) {
      for (const pkg of packageDirs(modules)) consider(pkg, modules, 'node_modules');
    }
  }
  return result;
}

/** `dir/node_modules`, then the parent's, up to the filesystem root (Node's resolution order). */
function nodeModulesChain(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (!d.endsWith('/node_modules')) {
      const candidate = join(d, 'node_modules');
      if (isDir(candidate)) out.push(candidate);
    }
    if (dirname(d) === d) break;
  }
  return out;
}

function nearestPackageRoot(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
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

function readManifest(dir: string): Omit<FoundComponent, 'foundIn' | 'via'> | DiscoveryProblem | undefined {
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
