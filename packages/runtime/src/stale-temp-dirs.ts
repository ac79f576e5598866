import { readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessRunning } from './launcher-alive.js';

/**
 * Removes the folders in $TMPDIR whose name `owned` matches with the pid of the process that made
 * them (its first group) when that process has ended: one killed with SIGKILL cannot remove its
 * own. This process's, a running one's and another user's stay.
 */
export function sweepStaleTempDirs(owned: RegExp): void {
  const base = tmpdir();
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(owned.exec(name)?.[1]);
    if (!pid || pid === process.pid || isProcessRunning(pid)) continue;
    const dir = join(base, name);
    try {
      if (uid !== undefined && statSync(dir).uid !== uid) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
}
