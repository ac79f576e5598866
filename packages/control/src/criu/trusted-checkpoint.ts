import { readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { firstUntrusted, STRICT_TRUST, type TrustPolicy } from '@switchyard/mca';
import { jobDirName, userJobsRoot, type JobRecord } from '@switchyard/runtime';
import { CheckpointError } from './errors.js';
import { IMAGES_DIR, JOB_RECORD_COPY, MANIFEST_FILE } from './manifest.js';

/**
 * Refuses a checkpoint folder another user owns or can write (as component packages and config
 * files are refused: docs/security.md): restore runs what its images hold, as whoever restores,
 * usually root, and its record and manifest name the folders and files restore creates, opens and
 * removes. The folder, its manifest, the job's record and every image are checked.
 */
export function refuseUntrustedCheckpoint(dir: string, trust: TrustPolicy = STRICT_TRUST): void {
  const images = join(dir, IMAGES_DIR);
  let imageFiles: string[] = [];
  try {
    imageFiles = readdirSync(images).map((name) => join(images, name));
  } catch {
    // no images: CRIU says so
  }
  const reason = firstUntrusted([dir, join(dir, MANIFEST_FILE), join(dir, JOB_RECORD_COPY), images, ...imageFiles], trust);
  if (reason) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `refused to restore ${dir}: ${reason}`);
}

/**
 * The saved job's folder, checked before restore makes it (and removes it after a failure): a
 * job folder in this user's own job folder (`$TMPDIR/switchyard-<uid>/job-<id>`), as when saved.
 */
export function refuseForeignJobDir(record: JobRecord): void {
  const root = userJobsRoot();
  if (resolve(dirname(record.jobDir)) === root && basename(record.jobDir) === jobDirName(record.jobId)) return;
  const why =
    `its job folder ${record.jobDir} is not ${join(root, jobDirName(record.jobId))}, in this user's job folder ` +
    '(restore with the TMPDIR it was saved with)';
  throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `refused to restore: ${why}`);
}
