import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, FIXTURES, results, runJob, type JobOutput } from './helpers/run-job.js';

// How a rank's script ends, as under mpi4py and mpirun: one that returns without finalize() is
// finalized at exit and the job exits 0; one that throws ends the job, naming the rank. Real jobs
// through `switchyard run`, at most 3 ranks at once.
const TRANSPORTS = [
  ['tcp', ['--mca', 'btl', 'tcp,self']],
  ['sm', ['--mca', 'btl', 'sm,self']],
  ['openib (soft provider)', ['--mca', 'btl', 'openib,self', '--mca', 'btl_openib_provider', 'soft']],
] as const;

const JOB_MS = 90_000;
const TEST_MS = 120_000;

/** Every rank a job reported is gone once the launcher returned. */
async function expectNoRankLeft(job: JobOutput): Promise<void> {
  const pids = results<{ pid?: number }>(job.stdout)
    .map((r) => r.pid)
    .filter((p) => p !== undefined);
  // Give the kernel a moment to reap.
  await new Promise((r) => setTimeout(r, 500));
  expect(pids.filter(alive)).toEqual([]);
}

describe.each(TRANSPORTS)('a script that ends without finalize(), over %s', (_name, mca) => {
  it('is finalized at exit: the job exits 0 with its output', async () => {
    const job = await runJob(['-n', '3', ...mca, 'no-finalize.mjs'], { timeoutMs: JOB_MS });
    expect(job.stderr).toBe('');
    expect(job.code).toBe(0);
    const r = results<{ rank: number; from: number; sum: number }>(job.stdout).sort((a, b) => a.rank - b.rank);
    expect(r).toEqual([
      { rank: 0, from: 2, sum: 3 },
      { rank: 1, from: 0, sum: 3 },
      { rank: 2, from: 1, sum: 3 },
    ]);
  }, TEST_MS);
});

describe('how a rank script ends', () => {
  it("exits with the script's exit code, naming the rank that set it", async () => {
    const job = await runJob(['-n', '3', 'no-finalize.mjs', 'exit-code', '4'], { timeoutMs: JOB_MS });
    expect(job.code).toBe(4);
    expect(job.stderr).toMatch(/rank 1 \(pid \d+\) exited with code 4/);
    expect(results(job.stdout)).toHaveLength(3);
  }, TEST_MS);

  it('finalizes a singleton (plain node) at exit too', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(FIXTURES, 'no-finalize.mjs')], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the singleton did not exit within ${JOB_MS} ms; stdout:\n${stdout}`));
      }, JOB_MS);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    expect(out.code).toBe(0);
    expect(results(out.stdout)).toEqual([{ rank: 0, from: 0, sum: 0 }]);
  }, TEST_MS);

  it.each([
    ['a callback throws', 'exception', 'an uncaught exception: TypeError: rank 1 threw on purpose'],
    // An ES module's body that throws rejects the module's evaluation: Node reports it as a rejection.
    ["the script's body throws", 'top', 'an unhandled promise rejection: TypeError: rank 1 threw on purpose'],
    ['a promise nobody handles rejects', 'rejection', 'an unhandled promise rejection: RangeError: rank 1 rejected on purpose'],
  ])('ends the job when %s, naming the rank and the error, with no process left', async (_what, how, error) => {
    const job = await runJob(['-n', '3', 'throws.mjs', '1', how], { timeoutMs: JOB_MS });
    expect(job.code).toBe(1);
    const pid = results<{ rank: number; pid: number }>(job.stdout).find((r) => r.rank === 1)?.pid;
    expect(job.stderr).toContain(`switchyard: rank 1 (pid ${pid}) ends with ${error}`);
    expect(job.stderr).toContain(`switchyard run: rank 1 (pid ${pid}) exited with code 1; aborting the job`);
    await expectNoRankLeft(job);
  }, TEST_MS);

  it('reports a rank that ended without finalize() while another waits for its message, within the time limit', async () => {
    // MPI_Finalize is collective: rank 0 waits in it for rank 1, which waits for rank 0's
    // message. mpirun hangs there too; --timeout ends the job and the launcher says where.
    const job = await runJob(['-n', '2', '--timeout', '5', 'no-finalize.mjs', 'leave-early'], { timeoutMs: JOB_MS });
    expect(job.code).toBe(110);
    expect(job.stderr).toContain('the job ran into its time limit of 5 s');
    expect(job.stderr).toContain('rank 0 ended without calling finalize() and waited in the finalize run at exit for the other ranks');
  }, TEST_MS);

  it('says what keeps a finalized rank from ending, once mpi_finalize_exit_note has passed, and nothing when it ends', async () => {
    const note = ['--mca', 'mpi_finalize_exit_note', '1000'];
    const lingering = await runJob(['-n', '2', ...note, 'linger-after-finalize.mjs', '4000'], { timeoutMs: JOB_MS });
    expect(lingering.code, lingering.stderr).toBe(0);
    const said = 'finalized 1 s ago and its process has not ended; what keeps its event loop alive: 2 Timeout.';
    for (const rank of [0, 1]) expect(lingering.stderr).toMatch(new RegExp(`rank ${rank} \\(pid \\d+\\) ${said.replaceAll('.', '\\.')}`));
    const ending = await runJob(['-n', '2', ...note, 'no-finalize.mjs'], { timeoutMs: JOB_MS });
    expect(ending.code).toBe(0);
    expect(ending.stderr).toBe('');
  }, TEST_MS);
});
