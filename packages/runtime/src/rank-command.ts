import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

let tsxLoader: string | undefined;

/**
 * The `--import` specifier of tsx, resolved from this package (a dependency of it) rather than
 * from the rank's cwd, so a TypeScript script runs wherever it lives.
 */
export function tsxLoaderUrl(): string {
  tsxLoader ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return tsxLoader;
}

/** The node arguments that run `script` with `args`: TypeScript goes through tsx's loader. */
export function rankCommand(script: string, args: readonly string[]): { file: string; args: string[] } {
  const nodeArgs = TYPESCRIPT_EXTENSIONS.has(extname(script).toLowerCase()) ? ['--import', tsxLoaderUrl()] : [];
  return { file: process.execPath, args: [...nodeArgs, script, ...args] };
}
