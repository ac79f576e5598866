import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '@switchyard/cli-kit';

/**
 * Where a chart goes, checked before anything is measured, so a long run does not end in a path
 * it cannot write to.
 */
export function chartPath(file: string, cwd: string, flag: string): string {
  if (!/\.svg$/i.test(file)) throw new UsageError(`${flag} takes a file name ending in .svg, got '${file}'`);
  const path = resolve(cwd, file);
  const folder = dirname(path);
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // Reported just below, naming the folder.
  }
  if (!isFolder) throw new UsageError(`${flag}: folder ${folder} does not exist`);
  return path;
}
