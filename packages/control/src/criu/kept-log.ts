import { copyFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ensurePrivateDir, userJobsRoot } from '@switchyard/runtime';
import { CheckpointError } from './errors.js';

/**
 * The CRIU log a failure names, moved out of an images folder about to be removed (a failed
 * save leaves the user's folder as it was): copied into the user's private Switchyard folder,
 * and the message names the copy (`label` tells whose it is). Anything else is returned as it is.
 */
export function keepCriuLog(err: unknown, label: string): unknown {
  if (!(err instanceof CheckpointError) || !err.log || !existsSync(err.log)) return err;
  const root = userJobsRoot();
  const kept = join(root, `criu-${label}-${Date.now()}-${basename(err.log)}`);
  try {
    ensurePrivateDir(root);
    copyFileSync(err.log, kept);
  } catch {
    // Named as it was: the error itself still says what CRIU reported.
    return err;
  }
  const message = err.message.split(err.log).join(kept);
  return new CheckpointError(err.code, message, err.saved, { log: kept, jobEnded: err.jobEnded });
}
