import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { results, type JobOutput } from '../helpers/run-job.js';
import { describeOnCluster } from './helpers/gate.js';
import { CLUSTER_FIXTURES, HOSTS, inCluster, mcaEnv, mpirun, srun } from './helpers/vcluster.js';

// Real jobs across two "hosts" (network namespaces with a Slurm node each, scripts/vcluster.sh),
// started by Slurm's srun with its PMIx server and by Open MPI's mpirun with ORTE's. Ranks 0-1
// land on node1 (10.77.0.1), ranks 2-3 on node2 (10.77.0.2).
const LAUNCHERS = [
  ['srun --mpi=pmix', srun],
  ['mpirun (salloc)', mpirun],
] as const;

// Rank 0's controller writes its job record under XDG_STATE_HOME: a folder of this run, not ~.
const state = mkdtempSync(join(tmpdir(), 'sy-cluster-state-'));
afterAll(() => rmSync(state, { recursive: true, force: true }));
const TCP = { ...mcaEnv({ btl: 'tcp,self' }), XDG_STATE_HOME: state };
type Where = { rank: number; good: number; hostname: string; netns: string; links: Array<{ peer: number; local: string; remote: string }> };

function expectClean(job: JobOutput) {
  expect(job.code, `${job.stderr}\n${job.stdout}`).toBe(0);
}

const sameHost = (a: number, b: number) => Math.floor(a / 2) === Math.floor(b / 2);

describeOnCluster('jobs across two hosts', () => {
  for (const [name, launch] of LAUNCHERS) {
    it(`${name}: ranks run on both hosts; tcp crosses the veth between hosts and stays on loopback within one`, async () => {
      const job = await launch([`${CLUSTER_FIXTURES}/where.mjs`], { env: TCP });
      expectClean(job);
      const r = results<Where>(job.stdout).sort((a, b) => a.rank - b.rank);
      expect(r.map((x) => x.hostname)).toEqual(['node1', 'node1', 'node2', 'node2']);
      expect(new Set(r.map((x) => x.netns)).size).toBe(2);
      for (const x of r) {
        expect(x.good).toBe(3);
        expect(x.links.map((l) => l.peer)).toEqual([0, 1, 2, 3].filter((p) => p !== x.rank));
        const own = x.rank < 2 ? HOSTS.node1 : HOSTS.node2;
        const other = x.rank < 2 ? HOSTS.node2 : HOSTS.node1;
        for (const l of x.links) {
          if (sameHost(x.rank, l.peer)) expect(l, `rank ${x.rank} to ${l.peer}`).toMatchObject({ local: '127.0.0.1', remote: '127.0.0.1' });
          else expect(l, `rank ${x.rank} to ${l.peer}`).toMatchObject({ local: own, remote: other });
        }
      }
    }, 90_000);

    it(`${name}: the wire-up's barrier holds every rank until the other host's ranks have entered it`, async () => {
      const marks = mkdtempSync(join(tmpdir(), 'sy-cluster-barrier-'));
      try {
        const job = await launch([`${CLUSTER_FIXTURES}/barrier.mjs`, marks], { env: TCP });
        expectClean(job);
        const r = results<{ rank: number; entered: boolean[] }>(job.stdout).sort((a, b) => a.rank - b.rank);
        expect(r.map((x) => x.rank)).toEqual([0, 1, 2, 3]);
        for (const x of r)
          expect(x.entered, `rank ${x.rank} left the barrier before every rank entered it`).toEqual([true, true, true, true]);
      } finally {
        rmSync(marks, { recursive: true, force: true });
      }
    }, 90_000);

    it(`${name}: one sender's messages stay in order under load, eager and rendezvous sizes`, async () => {
      const job = await launch(['ordering.mjs', '1500'], { env: TCP });
      expectClean(job);
      expect(results(job.stdout).sort((a, b) => Number(a.rank) - Number(b.rank))).toEqual(
        [1, 2, 3].map((rank) => ({ rank, inOrder: 1500, count: 1500 })),
      );
    }, 90_000);

    it(`${name}: a 256 MiB message crosses hosts intact`, async () => {
      // Rank 0 on node1 to rank 1 on node2: two ranks on two nodes, one each.
      const job = await launch(['big.mjs'], { env: TCP, ntasks: 2, timeoutS: 100 });
      expectClean(job);
      expect(results(job.stdout)).toEqual([{ size: 256 * 1024 * 1024, match: true }]);
    }, 120_000);

    it(`${name}: all-to-all among 4 ranks on 2 hosts, every message checked`, async () => {
      const job = await launch(['alltoall.mjs', '6'], { env: TCP });
      expectClean(job);
      const r = results<{ rank: number; good: number; expected: number }>(job.stdout);
      expect(r.map((x) => x.rank).sort()).toEqual([0, 1, 2, 3]);
      for (const x of r) expect(x.good).toBe(x.expected);
    }, 120_000);
  }

  it('srun --mpi=pmix: abort() on a rank other than the controlling one ends the step with its code, and no job record stays', async () => {
    // Slurm SIGKILLs every rank of the step as it ends it: the controlling rank removes its record first.
    const job = await srun(['comm-abort.mjs'], { env: TCP });
    expect(job.code, job.stderr).toBe(3);
    expect(job.stderr).toContain('surface: rank 1 gave up on purpose');
    const jobs = join(state, 'switchyard', 'jobs');
    expect(readdirSync(jobs).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 90_000);

  it('srun --mpi=pmix without --kill-on-bad-exit: a rank that fails ends the step, named, and nothing waits for it for ever', async () => {
    // srun alone lets the other tasks run on; the job's controller (rank 0) sees rank 3 go
    // without finalize() and aborts the job through PMIx, as a failed MPI job ends.
    const cmd = ['srun', '--mpi=pmix', '-N', '2', '-n', '4', '-O', process.execPath, 'throws.mjs', '3', 'top'];
    const job = await inCluster(cmd, { env: TCP, timeoutS: 60 });
    expect(job.code, job.stderr).not.toBe(0);
    expect(job.code, job.stderr).not.toBe(137);
    expect(job.stderr).toMatch(/rank 3 \(pid \d+\) left the job without calling finalize\(\)/);
  }, 90_000);
});
