import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepStaleTempDirs } from '@switchyard/runtime';

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
export function sweepStaleBenchDirs(): void {
  sweepStaleTempDirs(OWNED);
}
