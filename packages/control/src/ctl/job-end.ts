import { rmSync } from 'node:fs';
import {
  connectTool,
  exitReportPath,
  launcherAlive,
  readJobRecord,
  sweepExitReports,
  takeExitReport,
  TOOL_JOB_EXIT_REPORT,
  type ExitReport,
  type JobRecord,
} from '@switchyard/runtime';
import { call } from './tool-call.js';

/** How often the launcher's pid is looked at while waiting for the job to end. */
const LOOK_EVERY_MS = 100;
/** What stops a waiting command; passed to the job's launcher, as Ctrl-C on `switchyard run` stops its job. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** How a job ended: its report, or why there is none. */
export type JobEnd = { readonly report: ExitReport } | { readonly report?: undefined; readonly why: string };

/**
 * Waits for a job whose launcher is no child of this process (one CRIU restored) to end, and
 * learns how it ended: the launcher is asked to write its exit report, then its pid is watched.
 * Ctrl-C, SIGTERM and SIGHUP meanwhile are passed to the launcher, which stops the job and reports
 * that; `said` is told of each.
 */
export async function waitForJobEnd(job: JobRecord, said: (signal: NodeJS.Signals) => void): Promise<JobEnd> {
  // The record as the restore rewrote it: the launcher's start time tells it from a reused pid.
  const record = readJobRecord(job.jobDir) ?? job;
  sweepExitReports();
  const path = exitReportPath(record.jobId, process.pid);
  rmSync(path, { force: true });
  let notAsked: string | undefined;
  try {
    const client = await connectTool(record, { connectTimeoutMs: 10_000 });
    try {
      await call(client, TOOL_JOB_EXIT_REPORT, { path }, 10_000);
    } finally {
      client.close();
    }
  } catch (err) {
    notAsked = (err as Error).message;
  }
  const forward = (signal: NodeJS.Signals) => {
    said(signal);
    try {
      process.kill(record.pid, signal);
    } catch {
      // Ended meanwhile: its report tells how.
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    while (launcherAlive(record)) await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
  const report = takeExitReport(path);
  if (report) return { report };
  const who = `job ${record.jobId}'s launcher (pid ${record.pid})`;
  if (notAsked !== undefined) return { why: `${who} could not be asked for its exit status: ${notAsked}` };
  return { why: `${who} ended without reporting its exit status: it was killed, or saved again without --leave-running` };
}
