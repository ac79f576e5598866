import { cpus } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';

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
});
