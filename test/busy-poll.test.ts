import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { results, runJob } from './helpers/run-job.js';

// pml_busy_poll keeps a waiting rank polling, as Open MPI's ranks spin in opal_progress; with
// more ranks on the host than it has cores they yield instead (Open MPI's yield-when-idle), since
// a rank that polls takes the core the rank it waits for needs. Told apart by the CPU a rank
// spends waiting 400 ms for a message: polling, a good share of a core; sleeping, next to none.

type Waited = { rank: number; waitedMs: number; cpuMs: number; got: string };

async function waitingRank(np: number, extra: string[] = []): Promise<Waited> {
  const args = ['-np', String(np), '--bind-to', 'none', '--mca', 'btl', 'sm,self', '--mca', 'pml_busy_poll', '1', ...extra, 'wait-cpu.mjs'];
  const job = await runJob(args, { timeoutMs: 60_000 });
  expect(job.code, job.stderr).toBe(0);
  const [waited] = results<Waited>(job.stdout);
  expect(waited).toMatchObject({ rank: 0, got: 'arrived!' });
  expect(waited!.waitedMs).toBeGreaterThanOrEqual(300);
  return waited!;
}

describe('pml_busy_poll and the host\'s cores', () => {
  it.skipIf(cpus().length < 2)('a waiting rank polls while the host has a core for each rank', async () => {
    const waited = await waitingRank(2);
    // A quarter of the wait at least, even on a loaded machine; sleeping it would be a few ms.
    expect(waited.cpuMs, `${waited.cpuMs} ms of CPU in a wait of ${waited.waitedMs} ms`).toBeGreaterThan(waited.waitedMs / 4);
  }, 90_000);

  it('a waiting rank sleeps when the ranks outnumber the host\'s cores', async () => {
    const waited = await waitingRank(cpus().length + 2);
    expect(waited.cpuMs, `${waited.cpuMs} ms of CPU in a wait of ${waited.waitedMs} ms`).toBeLessThan(waited.waitedMs / 10);
  }, 90_000);

  it('a waiting rank polls on an oversubscribed host too with pml_busy_poll_oversubscribed 1', async () => {
    const waited = await waitingRank(cpus().length + 2, ['--mca', 'pml_busy_poll_oversubscribed', '1']);
    // Sharing the cores with the other ranks' polling: an eighth of the wait at least.
    expect(waited.cpuMs, `${waited.cpuMs} ms of CPU in a wait of ${waited.waitedMs} ms`).toBeGreaterThan(waited.waitedMs / 8);
  }, 90_000);
});
