import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LaunchError } from './errors.js';

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/**
 * The `--import` specifier of tsx. tsx is the application's (an optional peer of this package: a
 * job of JavaScript ranks needs no compiler), so it is looked for from here (hoisted beside this
 * package) and from the script's folder, so a TypeScript script runs wherever it lives.
 */
export function tsxLoaderUrl(script: string): string {
  for (const from of [import.meta.url, join(dirname(script), 'rank.js')]) {
    try {
      return pathToFileURL(createRequire(from).resolve('tsx')).href;
    } catch {
      // not installed there
    }
  }
  throw new LaunchError(
    `${script} is TypeScript, which ranks run through tsx, and tsx is not installed: 'npm install --save-dev tsx' in the application, or ` +
      `run the compiled .js`,
  );
}

/** The node arguments that run `script` with `args`: TypeScript goes through tsx's loader. */
export function rankCommand(script: string, args: readonly string[]): { file: string; args: string[] } {
  const nodeArgs = TYPESCRIPT_EXTENSIONS.has(extname(script).toLowerCase()) ? ['--import', tsxLoaderUrl(script)] : [];
  return { file: process.execPath, args: [...nodeArgs, script, ...args] };
}
