import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isProcessRunning } from '@switchyard/runtime';

/** The kit's folders in $TMPDIR carry the pid of the kit that made them (a killed kit cannot remove its own). */
const OWNED = /^sy-kit-(?:job|ctl|pair)-(\d+)-/;
let swept = false;

/**
 * A fresh private folder of the kit's in $TMPDIR. The first one a kit process makes first removes
 * the folders that kits no longer running left behind (a test run interrupted with Ctrl-C).
 */
export function kitTempDir(kind: 'job' | 'ctl' | 'pair'): string {
  if (!swept) {
    swept = true;
    sweepStale();
  }
  // Absolute: ranks run in folders of their own (see own-folder.ts), a relative TMPDIR would name another place there.
  return resolve(mkdtempSync(join(tmpdir(), `sy-kit-${kind}-${process.pid}-`)));
}

function sweepStale(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(OWNED.exec(name)?.[1]);
    if (!pid || pid === process.pid || isProcessRunning(pid)) continue;
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    } catch {
      // Another user's: theirs to remove.
    }
  }
}
