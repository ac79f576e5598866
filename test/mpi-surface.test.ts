import { afterEach, describe, expect, it } from 'vitest';
import { startSteeredJob, type BackgroundJob } from './helpers/ctl.js';
import { results, runJob } from './helpers/run-job.js';
import { sendLists, verb } from './helpers/traffic-checks.js';

// The application API against sequential references (test/fixtures/surface.mjs): every
// collective, the v variants, scan and exscan, every op and a user one, non-blocking collectives,
// split / dup / free, objects, typed receives, cancel and Request.test(). One job per size runs
// every call, one size at a time (at most 8 ranks at once).
type Surface = { rank: number; failed: string[]; rounds?: number };

function expectAllPassed(stdout: string, size: number): Surface[] {
  const r = results<Surface>(stdout).sort((a, b) => a.rank - b.rank);
  expect(r.map((x) => x.rank)).toEqual(Array.from({ length: size }, (_, i) => i));
  for (const x of r) expect(x.failed, `rank ${x.rank}`).toEqual([]);
  return r;
}

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

describe('misuse, and loops that never yield', () => {
  it('a second init and a communicator used after finalize reject; loops of iprobe() and test() see what sm brings', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'sm,self', 'misuse.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(0);
    expectAllPassed(out.stdout, 2);
  }, 90_000);
});

describe('the MPI surface over tcp', () => {
  it.each([1, 2, 3, 4, 8])('every call on %i ranks matches its sequential reference', async (n) => {
    const out = await runJob(['-n', String(n), '--mca', 'btl', 'tcp,self', 'surface.mjs'], { timeoutMs: 400_000 });
    expect(out.code, out.stderr).toBe(0);
    expectAllPassed(out.stdout, n);
  }, 420_000);

  it('keeps collectives correct while their transport is switched and reset under them', async () => {
    // openib on its software provider and tcp: the verbs move every link between the two while
    // rank after rank is inside a tree, ring or pairwise collective.
    job = await startSteeredJob(['-n', '4', '--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'], 'surface.mjs');
    for (let i = 0; i < 3; i++) {
      expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ ok: true, outcome: 'done' });
      expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp', 'tcp', 'tcp']);
      expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true, outcome: 'done' });
    }
    const out = await job.stop(240_000);
    expect(out.code, out.stderr).toBe(0);
    for (const r of expectAllPassed(out.stdout, 4)) expect(r.rounds).toBeGreaterThan(0);
  }, 420_000);

  it('fails allreduce with ERR_COUNT naming the other rank when the ranks passed different lengths, small and large', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'tcp,self', 'uneven-reduce.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(0);
    for (const [rank, other] of [[0, 1], [1, 0]]) {
      for (const n of [1, 100_000]) {
        const line = out.stdout.split('\n').find((l) => l.startsWith(`rank ${rank} n=${n} `));
        expect(line).toMatch(new RegExp(`ERR_COUNT: ranks passed arrays of different lengths or types to a reduction: .*rank ${other}`));
      }
    }
  }, 90_000);

  it('says the ranks\' collective calls do not match (ERR_TYPE) when one calls barrier and the other bcast', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'tcp,self', 'mismatched-collectives.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(5);
    expect(out.stdout).toMatch(/rank 1: ERR_TYPE: .*: the ranks' collective calls do not match \(every rank must call the same collectives/);
  }, 90_000);

  it('says so (ERR_TYPE) when a barrier receives another collective\'s message, instead of returning as if done', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'tcp,self', 'mismatched-barrier.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(5);
    expect(out.stdout).toMatch(/rank 0: ERR_TYPE: barrier: a message of 5 bytes arrived from rank 1: the ranks' collective calls do not match/);
  }, 90_000);

  it('refuses (ERR_COUNT) a scatter whose root passes parts of different lengths, as alltoall does', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'tcp,self', 'uneven-scatter.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(5);
    expect(out.stdout).toMatch(/rank 0: ERR_COUNT: scatter: part 1 has 2 elements, part 0 1 \(one length for all; scatterv takes a length per rank\)/);
    expect(out.stdout).not.toMatch(/rank 1: got/);
  }, 90_000);

  it('ends the whole job from comm.abort on a split communicator, with its code and message', async () => {
    const out = await runJob(['-n', '2', '--mca', 'btl', 'tcp,self', 'comm-abort.mjs'], { timeoutMs: 120_000 });
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('surface: rank 1 gave up on purpose');
  }, 150_000);
});
