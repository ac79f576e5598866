import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, userJobsRoot } from '@switchyard/runtime';

/**
 * A private folder for one CRIU run's log (`-W`), in the user's Switchyard folder rather than
 * beside the images: a failed run's log outlives an images folder that is removed (a failed save
 * leaves DIR as it was), and images on read-only media restore. Returns the log's path.
 */
export function criuLogIn(kind: 'dump' | 'restore'): string {
  const root = userJobsRoot();
  ensurePrivateDir(root);
  return join(mkdtempSync(join(root, `criu-${kind}-`)), `${kind}.log`);
}

/**
 * Done with a run's log: kept (with its folder) when a failure names it and CRIU wrote
 * something, removed otherwise.
 */
export function settleCriuLog(log: string, failed: boolean): void {
  if (failed && statSync(log, { throwIfNoEntry: false })?.size) return;
  rmSync(dirname(log), { recursive: true, force: true });
}
