import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { firstUntrusted, STRICT_TRUST, type TrustPolicy } from '@switchyard/mca';
import { ensurePrivateDir, jobDirName, type JobRecord } from '@switchyard/runtime';
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
 * job folder of this user's (`switchyard-<uid>/job-<id>`, in a folder only this user may write).
 */
export function refuseForeignJobDir(record: JobRecord): void {
  const uid = process.getuid?.() ?? 0;
  const parent = dirname(record.jobDir);
  if (basename(record.jobDir) !== jobDirName(record.jobId) || basename(parent) !== `switchyard-${uid}`) {
    const why = `its job folder ${record.jobDir} is not a job folder of this user (switchyard-${uid}/${jobDirName(record.jobId)})`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `refused to restore: ${why}`);
  }
  try {
    ensurePrivateDir(parent);
  } catch (err) {
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `refused to restore: ${(err as Error).message}`);
  }
}
