import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { userJobsRoot } from './job-dir.js';
import { isProcessRunning } from './launcher-alive.js';
import type { JobResult, RunningJob } from './job-types.js';

/**
 * `job.exitReport`: a tool asks the launcher to write how the job ended into a file once it ends.
 * A launcher restored by CRIU is nobody's child: without this, its exit status reaches no one.
 */
export const TOOL_JOB_EXIT_REPORT = 'job.exitReport';

/** How a job ended, as `switchyard run` would have exited. */
export interface ExitReport {
  readonly jobId: string;
  readonly exitCode: number;
  readonly abortReason?: string;
}

const REPORT_NAME = /^exit-(\d+)-([\w.-]+)\.json$/;

/**
 * Where the launcher of `jobId` writes its report for the waiting process `waiterPid`: the user's
 * private runtime folder, named by the waiter, so that a waiter killed before reading it can have
 * it swept (sweepExitReports).
 */
export function exitReportPath(jobId: string, waiterPid: number): string {
  return join(userJobsRoot(), `exit-${waiterPid}-${jobId}.json`);
}

/** The reports asked for on a launcher's tool channel, written when its job ends. */
export class ExitReports {
  readonly #paths = new Set<string>();

  constructor(private readonly jobId: string) {}

  /** Serves `job.exitReport { path }`; a path must be one exitReportPath gives for this job. */
  serve(job: Pick<RunningJob, 'onToolCall'>): void {
    job.onToolCall(TOOL_JOB_EXIT_REPORT, (params) => {
      const path = (params as { path?: unknown } | null)?.path;
      const name = typeof path === 'string' ? REPORT_NAME.exec(basename(path)) : null;
      // Only a file of the user's runtime folder, named for this job: a tool cannot have the launcher write elsewhere.
      if (typeof path !== 'string' || !name || name[2] !== this.jobId || dirname(path) !== userJobsRoot()) {
        throw new Error(`${TOOL_JOB_EXIT_REPORT}: expected { path } of an exit report of job ${this.jobId}, got ${JSON.stringify(params)}`);
      }
      this.#paths.add(path);
      return { path };
    });
  }

  /** Writes the job's end into every report asked for; `log` names one that cannot be written. */
  write(result: JobResult, log: (line: string) => void): void {
    const report: ExitReport = {
      jobId: result.jobId,
      exitCode: result.exitCode,
      ...(result.abortReason === undefined ? {} : { abortReason: result.abortReason }),
    };
    for (const path of this.#paths) {
      try {
        writeFileSync(path, `${JSON.stringify(report)}\n`, { mode: 0o600 });
      } catch (err) {
        log(`cannot write the job's exit report ${path}: ${(err as Error).message}`);
      }
    }
  }
}

/** Reads and removes the report at `path`; undefined when there is none (the launcher ended without writing it). */
export function takeExitReport(path: string): ExitReport | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  rmSync(path, { force: true });
  try {
    const report = JSON.parse(text) as ExitReport;
    return Number.isInteger(report.exitCode) ? report : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the reports whose waiter has ended (killed before it read its report). */
export function sweepExitReports(): void {
  let names: string[];
  try {
    names = readdirSync(userJobsRoot());
  } catch {
    return;
  }
  for (const name of names) {
    const waiter = Number(REPORT_NAME.exec(name)?.[1]);
    if (waiter && waiter !== process.pid && !isProcessRunning(waiter)) rmSync(join(userJobsRoot(), name), { force: true });
  }
}
