import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findProjectRoot, firstUntrusted, type TrustPolicy } from '@switchyard/mca';
import { LaunchError } from './errors.js';

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/**
 * The `--import` specifier of tsx. tsx is the application's (an optional peer of this package: a
 * job of JavaScript ranks needs no compiler), so it is looked for from here (hoisted beside this
 * package) and from the script's folder, so a TypeScript script runs wherever it lives. Only a tsx
 * inside the project that installed Switchyard, or the script's own project, is taken: Node's
 * lookup also walks the node_modules of every folder above them, which nobody invited.
 */
export function tsxLoaderUrl(script: string, trust?: TrustPolicy): string {
  const trusted = [installingProject(), findProjectRoot(realpathSync(dirname(script)), trust)].filter((d): d is string => d !== undefined);
  for (const from of [import.meta.url, join(dirname(script), 'rank.js')]) {
    let file: string;
    try {
      file = realpathSync(createRequire(from).resolve('tsx'));
    } catch {
      continue; // not installed there
    }
    if (!trusted.some((root) => file.startsWith(root + sep))) continue;
    // Files another user may change run as whoever starts the job: checked as components are.
    const at = file.lastIndexOf(`${sep}node_modules${sep}tsx${sep}`);
    const pkg = at >= 0 ? file.slice(0, at + `${sep}node_modules${sep}tsx`.length) : dirname(file);
    const reason = trust && firstUntrusted([pkg, join(pkg, 'package.json'), file], trust, [dirname(pkg)]);
    if (reason) throw new LaunchError(`${script} is TypeScript, which ranks run through tsx, and the tsx found is refused: ${reason}`);
    return pathToFileURL(file).href;
  }
  throw new LaunchError(
    `${script} is TypeScript, which ranks run through tsx, and tsx is not installed: 'npm install --save-dev tsx' in the application, or ` +
      `run the compiled .js`,
  );
}

/** The node arguments that run `script` with `args`: TypeScript goes through tsx's loader. */
export function rankCommand(script: string, args: readonly string[], trust?: TrustPolicy): { file: string; args: string[] } {
  const nodeArgs = TYPESCRIPT_EXTENSIONS.has(extname(script).toLowerCase()) ? ['--import', tsxLoaderUrl(script, trust)] : [];
  return { file: process.execPath, args: [...nodeArgs, script, ...args] };
}

/**
 * The project this package is installed in: the folder above the first `node_modules` of its
 * real path, or in a checkout the workspace root (the nearest package.json with workspaces).
 */
function installingProject(): string | undefined {
  const own = realpathSync(dirname(fileURLToPath(import.meta.url)));
  const at = own.indexOf(`${sep}node_modules${sep}`);
  if (at >= 0) return own.slice(0, at);
  for (let dir = own; ; dir = dirname(dir)) {
    const manifest = readJson(join(dir, 'package.json'));
    if (manifest?.workspaces) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function readJson(path: string): { workspaces?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { workspaces?: unknown };
  } catch {
    return undefined;
  }
}
