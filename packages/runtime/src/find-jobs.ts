import { jobRecordOf, listControllerRecords } from './controller-record.js';
import type { JobRecord } from './job-dir.js';
import { listJobs } from './list-jobs.js';
import { connectTool } from './tool-client.js';

/** How long a controller gets to answer before its record is shown as stale. */
const PROBE_TIMEOUT_MS = 1500;

/**
 * Every job of this user a tool can reach: those `switchyard run` started (job folders; dead ones
 * are cleaned away) and those a PMIx launcher started (controller records). A controller record
 * whose controller does not answer is kept, marked `stale`: the job may have been killed, or its
 * controller may only be unreachable from here.
 */
export async function findJobs(): Promise<JobRecord[]> {
  const pmix = await Promise.all(
    listControllerRecords().map(async ({ path, record }) => {
      const job = jobRecordOf(record, path);
      return (await answers(job)) ? job : { ...job, stale: true };
    }),
  );
  return [...listJobs(), ...pmix];
}

async function answers(job: JobRecord): Promise<boolean> {
  try {
    (await connectTool(job, { connectTimeoutMs: PROBE_TIMEOUT_MS })).close();
    return true;
  } catch {
    return false;
  }
}
