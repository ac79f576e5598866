import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitReports, exitReportPath, sweepExitReports, takeExitReport } from '../src/exit-report.js';
import { userJobsRoot } from '../src/job-dir.js';
import type { ToolCallHandler } from '../src/job-types.js';

const JOB = `test-exit-report-${process.pid}`;
const made: string[] = [];
afterEach(() => {
  for (const path of made.splice(0)) rmSync(path, { force: true });
});

/** The `job.exitReport` handler ExitReports serves, called as the tool channel would. */
function served(reports: ExitReports): (params: unknown) => unknown {
  let handler: ToolCallHandler | undefined;
  reports.serve({ onToolCall: (_method, h) => ((handler = h), () => {}) });
  return (params) => handler!(params, { onClose: () => {} } as never);
}

describe('exit reports (how a restored job ended)', () => {
  it('writes how the job ended into each report asked for, and nowhere else', () => {
    mkdirSync(userJobsRoot(), { recursive: true, mode: 0o700 });
    const reports = new ExitReports(JOB);
    const ask = served(reports);
    const path = exitReportPath(JOB, process.pid);
    made.push(path);
    expect(ask({ path })).toEqual({ path });
    // A tool cannot have the launcher write a file of its choosing, or another job's report.
    const elsewhere = exitReportPath(JOB, 1).replace(userJobsRoot(), '/tmp');
    for (const bad of ['/etc/passwd', join(userJobsRoot(), 'exit-1-other.json'), elsewhere, 7])
      expect(() => ask({ path: bad })).toThrow(/expected \{ path \} of an exit report of job/);
    const abortReason = 'rank 1 (pid 9) was killed by signal SIGKILL';
    reports.write({ jobId: JOB, exitCode: 137, abortReason, ranks: [] }, () => {});
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ jobId: JOB, exitCode: 137, abortReason });
    expect(takeExitReport(path)).toMatchObject({ exitCode: 137 });
    expect(existsSync(path)).toBe(false);
    expect(takeExitReport(path)).toBeUndefined();
  });

  it("sweeps the reports of waiters that are gone, not a live waiter's", () => {
    mkdirSync(userJobsRoot(), { recursive: true, mode: 0o700 });
    // A pid above the kernel's limit is one no process has.
    const gone = exitReportPath(JOB, 4_194_305);
    const mine = exitReportPath(JOB, process.pid);
    made.push(gone, mine);
    writeFileSync(gone, '{}');
    writeFileSync(mine, '{}');
    sweepExitReports();
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(mine)).toBe(true);
  });
});
