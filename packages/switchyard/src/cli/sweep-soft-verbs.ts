import { importOwnPackage } from './own-package.js';

/**
 * Removes the sockets soft verbs devices of killed ranks left (SIGKILL, or SIGTERM before they
 * closed): after a job of `run`, or of a bench, with btl-openib installed (an optional
 * dependency), nothing of the job stays behind.
 */
export async function sweepSoftVerbs(): Promise<void> {
  try {
    (await importOwnPackage<typeof import('@switchyard/btl-openib/admin')>('@switchyard/btl-openib/admin'))?.sweepSoftVerbsFolder();
  } catch {
    // Not installed, or the folder is not ours to sweep: the next soft device opened sweeps it.
  }
}
