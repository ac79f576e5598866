import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sweepStaleTempDirs } from '@switchyard/runtime';

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
    sweepStaleTempDirs(OWNED);
  }
  // Absolute: ranks run in folders of their own (see own-folder.ts), a relative TMPDIR would name another place there.
  return resolve(mkdtempSync(join(tmpdir(), `sy-kit-${kind}-${process.pid}-`)));
}
