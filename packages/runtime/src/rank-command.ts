import { realpathSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findProjectRoot, installingProject, resolveTrustedPackage, type TrustPolicy } from '@switchyard/mca';
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
  const roots = [installingProject(), findProjectRoot(realpathSync(dirname(script)), trust)].filter((d): d is string => d !== undefined);
  const found = resolveTrustedPackage('tsx', [fileURLToPath(import.meta.url), join(dirname(script), 'rank.js')], roots, trust);
  if (found && 'refused' in found) {
    throw new LaunchError(`${script} is TypeScript, which ranks run through tsx, and the tsx found is refused: ${found.refused}`);
  }
  if (found) return pathToFileURL(found.file).href;
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
