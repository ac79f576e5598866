import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The bench's private folders under the temporary directory carry the pid of the bench that made
 * them: a bench killed with SIGKILL cannot remove its own, and the next one removes those whose
 * bench is gone.
 */
const PREFIX = 'switchyard-bench-';
const OWNED = /^switchyard-bench-(\d+)-/;

/** A new folder of this bench's (mode 0700, as mkdtemp makes it), `what` naming its use. */
export function benchTempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-${what}-`));
}

/** Removes the folders of benches that have ended without removing them; one in use stays. */
export function sweepStaleTempDirs(): void {
  const base = tmpdir();
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(OWNED.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const dir = join(base, name);
    try {
      // Another user's is theirs to remove.
      if (uid !== undefined && statSync(dir).uid !== uid) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
