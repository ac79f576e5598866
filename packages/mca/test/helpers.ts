import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];
afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** Writes `files` (path → content; objects become JSON) under a fresh temp folder, removed after the test. */
export function tree(files: Record<string, string | object>): string {
  const root = mkdtempSync(join(tmpdir(), 'sy-mca-'));
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return root;
}

/** A component package in folder `name`: package.json with the `mca` declaration plus an ESM entry with `source` as body. */
export function componentPackage(
  name: string,
  manifest: { framework: string; component: string; api: string },
  source: string,
): Record<string, string | object> {
  // `name` is the folder; the package name is its last one or two (scoped) segments.
  const parts = name.split('/');
  const pkgName = parts.at(-2)?.startsWith('@') ? parts.slice(-2).join('/') : parts.at(-1)!;
  return {
    [`${name}/package.json`]: { name: pkgName, version: '1.2.3', type: 'module', main: 'index.js', mca: manifest },
    [`${name}/index.js`]: source,
  };
}

/** Options that isolate a test from the machine's own files and environment. */
export function isolated(root: string, extra: Record<string, unknown> = {}) {
  return {
    cwd: root,
    env: {} as NodeJS.ProcessEnv,
    homeDir: join(root, 'home'),
    sysconfDir: join(root, 'etc'),
    commandLine: [] as Array<[string, string]>,
    searchFrom: [root],
    log: () => {},
    ...extra,
  };
}
