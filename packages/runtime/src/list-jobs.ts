import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isControllerRecordPath, jobRecordOf, readControllerRecord } from './controller-record.js';
import { sweepExitReports } from './exit-report.js';
import { launcherAlive } from './launcher-alive.js';
import { checkPrivateDir, isJobDirName, JOB_RECORD_FILE, removeJobDir, userJobsRoot, type JobRecord } from './job-dir.js';

/** A folder without job.json this old is debris of a launcher killed while starting. */
const UNFINISHED_DIR_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * The jobs of this user whose launcher is alive, oldest first. Folders left by launchers that died
 * without cleaning up (SIGKILL) are removed on the way: their pid is gone, or now names another
 * process (started at another time); so are exit reports whose waiter was killed before reading them.
 */
export function listJobs(root = userJobsRoot()): JobRecord[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  // Records there name sockets a tool will trust: only from a folder nobody else controls.
  checkPrivateDir(root);
  if (root === userJobsRoot()) sweepExitReports();
  const jobs: JobRecord[] = [];
  for (const name of names.filter(isJobDirName)) {
    const dir = join(root, name);
    const record = readJobRecord(dir);
    if (record) {
      if (launcherAlive(record)) jobs.push(record);
      else removeJobDir(dir);
    } else if (ageMs(dir) > UNFINISHED_DIR_MAX_AGE_MS) {
      removeJobDir(dir);
    }
  }
  return jobs.sort((a, b) => a.startTime.localeCompare(b.startTime));
}

/**
 * The record in `jobDir`/job.json, or undefined when it is missing or unreadable. `jobDir` may
 * also be a rank controller's record file (`<jobId>.json`, for jobs mpirun or srun started).
 */
export function readJobRecord(jobDir: string): JobRecord | undefined {
  if (isControllerRecordPath(jobDir)) {
    const record = readControllerRecord(jobDir);
    return record && jobRecordOf(record, jobDir);
  }
  try {
    const record = JSON.parse(readFileSync(join(jobDir, JOB_RECORD_FILE), 'utf8')) as JobRecord;
    if (typeof record.jobId !== 'string' || typeof record.pid !== 'number' || typeof record.socketPath !== 'string') {
      return undefined;
    }
    return record;
  } catch {
    return undefined;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
