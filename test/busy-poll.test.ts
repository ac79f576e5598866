import { cpus } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { alive, results, runJob } from './helpers/run-job.js';

// pml_busy_poll keeps a waiting rank polling, as Open MPI's ranks spin in opal_progress; with
// more ranks on the host than it has cores they sleep instead (Open MPI's yield-when-idle), since
// a rank that polls takes the core the rank it waits for needs. `ctl status` says which, per rank.

type PmlStatus = { busyPolling?: boolean; busyPollStopped?: string };
type Status = { ranks: Array<{ rank: number; pml: PmlStatus }> };

let job: SteeredJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

/**
 * Each rank's PML as `ctl status --json` shows it, and the status as text, in a job of `np`
 * ranks (stuck.mjs: rank 0 waits on a receive until the job is stopped).
 */
async function statusOf(np: number, extra: string[] = []): Promise<{ pmls: PmlStatus[]; text: string }> {
  const args = ['-n', String(np), '--bind-to', 'none', '--mca', 'btl', 'sm,self', '--mca', 'pml_busy_poll', '1', ...extra];
  job = await startSteeredJob(args, 'stuck.mjs');
  const json = await ctl(['--job', job.jobId, 'status', '--json']);
  expect(json.code, json.stderr).toBe(0);
  const text = await ctl(['--job', job.jobId, 'status']);
  expect(text.code, text.stderr).toBe(0);
  const ranks = (json.json as Status).ranks.sort((a, b) => a.rank - b.rank);
  expect(ranks).toHaveLength(np);
  const stopped = await job.stop(60_000);
  expect(stopped.code, stopped.stderr).toBe(0);
  return { pmls: ranks.map((r) => r.pml), text: text.stdout };
}

describe("pml_busy_poll and the host's cores", () => {
  it.skipIf(cpus().length < 2)('ranks poll while the host has a core for each', async () => {
    const { pmls, text } = await statusOf(2);
    for (const p of pmls) expect(p).toMatchObject({ busyPolling: true });
    expect(pmls.every((p) => p.busyPollStopped === undefined)).toBe(true);
    expect(text).toContain('waits poll (pml_busy_poll)');
  }, 90_000);

  it("ranks sleep when they outnumber the host's cores, and status says why", async () => {
    const np = cpus().length + 2;
    const { pmls, text } = await statusOf(np);
    const why = `${np} ranks on this host, ${cpus().length} cores (pml_busy_poll_oversubscribed 1 keeps it)`;
    for (const p of pmls) expect(p).toMatchObject({ busyPolling: false, busyPollStopped: why });
    expect(text).toContain(`busy polling off: ${why}`);
  }, 90_000);

  it('ranks poll on an oversubscribed host too with pml_busy_poll_oversubscribed 1', async () => {
    const { pmls } = await statusOf(cpus().length + 2, ['--mca', 'pml_busy_poll_oversubscribed', '1']);
    for (const p of pmls) expect(p).toMatchObject({ busyPolling: true });
  }, 90_000);

  // Busy polling spins while any request is outstanding: a receive left posted at finalize kept
  // the finalized rank's loop turning for good, and the job never ended.
  it.skipIf(cpus().length < 2)('a rank that finalizes with a receive still posted ends, and so does the job', async () => {
    const args = ['-n', '2', '--bind-to', 'none', '--mca', 'btl', 'tcp,self', '--mca', 'pml_busy_poll', '1'];
    const out = await runJob([...args, 'pending-at-finalize.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).not.toContain('has not ended');
    const ranks = results<{ rank: number; pid: number; completed: boolean }>(out.stdout);
    expect(ranks.map((r) => r.completed)).toEqual([false, false]);
    await new Promise((r) => setTimeout(r, 500));
    expect(ranks.map((r) => r.pid).filter(alive)).toEqual([]);
  }, 90_000);
});
