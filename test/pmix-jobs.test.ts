import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { pmixSkipReason, runUnderMpirun, spawnMpirun } from './helpers/run-mpirun.js';
import { alive, FIXTURES, results } from './helpers/run-job.js';

// Jobs started by Open MPI's mpirun instead of `switchyard run`: ranks wire up through PMIx, and
// rank 0 runs the job's controller, which `switchyard ctl` finds through the job record it
// writes in the user's state directory (a private one per test file here).
const skip = pmixSkipReason();
const TCP = { SWITCHYARD_MCA_btl: 'tcp,self' };
const FAST_AND_TCP = { SWITCHYARD_MCA_btl: 'openib,tcp,self', SWITCHYARD_MCA_btl_openib_provider: 'soft' };

let state: string;
let records: string;
beforeAll(() => {
  state = mkdtempSync(join(tmpdir(), 'sy-state-'));
  records = join(state, 'switchyard', 'jobs');
});
afterAll(() => rmSync(state, { recursive: true, force: true }));

/** A job under mpirun, with this test file's state directory. */
function mpirun(np: number, script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000) {
  return runUnderMpirun(np, [process.execPath, script, ...args], { cwd: FIXTURES, env: { ...env, XDG_STATE_HOME: state }, timeoutMs });
}

function recordFiles(): string[] {
  try {
    return readdirSync(records);
  } catch {
    return [];
  }
}

describe.skipIf(skip !== undefined)('jobs started by mpirun (PMIx wire-up)', () => {
  it('keeps one sender\'s messages on one tag in order, eager and rendezvous sizes', async () => {
    const job = await mpirun(3, 'ordering.mjs', ['600'], TCP);
    expect(job.stderr).toBe('');
    expect(job.code).toBe(0);
    expect(results(job.stdout).sort((a, b) => Number(a.rank) - Number(b.rank))).toEqual([
      { rank: 1, inOrder: 600, count: 600 },
      { rank: 2, inOrder: 600, count: 600 },
    ]);
    // The controller took its record along.
    expect(recordFiles()).toEqual([]);
  });

  it('finalizes at exit a script that ends without finalize(), controller rank included', async () => {
    const job = await mpirun(3, 'no-finalize.mjs', [], FAST_AND_TCP, 90_000);
    expect(job.code).toBe(0);
    expect(results(job.stdout).map((r) => r.sum)).toEqual([3, 3, 3]);
    expect(recordFiles()).toEqual([]);
  }, 120_000);

  it('ends the job, naming the rank, when a rank calls process.exit(0) without finalize() (mpirun would wait for ever)', async () => {
    const job = await mpirun(2, 'throws.mjs', ['1', 'exit0'], TCP);
    expect(job.code, job.stderr).toBe(1);
    const pid = results<{ rank: number; pid: number }>(job.stdout).find((r) => r.rank === 1)?.pid;
    expect(job.stderr).toContain(`rank 1 (pid ${pid}) left the job without calling finalize()`);
    expect(recordFiles()).toEqual([]);
  });

  it("ends with the controlling rank's own exit code when it exits (the others wait for mpirun to end the job)", async () => {
    const job = await mpirun(3, 'throws.mjs', ['0', 'exit3'], TCP);
    expect(job.code, job.stderr).toBe(3);
    expect(recordFiles()).toEqual([]);
  });

  it('takes the job record along when start-up fails on a bad MCA value (the ranks abort through PMIx)', async () => {
    // Each rank aborts; mpirun may SIGKILL the controller's rank before it exits by itself.
    for (let i = 0; i < 3; i++) {
      const job = await mpirun(2, 'collectives.mjs', [], { SWITCHYARD_MCA_pml_failover: 'maybe' });
      expect(job.code).toBe(1);
      expect(job.stderr).toContain("MCA parameter 'pml_failover' (type boolean) from environment (SWITCHYARD_MCA_pml_failover)");
      expect(recordFiles()).toEqual([]);
    }
  }, 60_000);

  it('moves a 256 MiB message intact', async () => {
    const job = await mpirun(2, 'big.mjs', [], TCP, 120_000);
    expect(job.code).toBe(0);
    expect(results(job.stdout)).toEqual([{ size: 256 * 1024 * 1024, match: true }]);
  }, 150_000);

  it('exchanges all-to-all among 4 ranks with every message checked, over openib and tcp', async () => {
    const job = await mpirun(4, 'alltoall.mjs', ['6'], FAST_AND_TCP, 120_000);
    expect(job.code).toBe(0);
    const r = results<{ rank: number; good: number; expected: number }>(job.stdout);
    expect(r).toHaveLength(4);
    for (const x of r) expect(x.good).toBe(x.expected);
  }, 150_000);

  it('fails init saying why and how to fix it when the PMIx addon cannot load', async () => {
    const job = await mpirun(2, 'ordering.mjs', ['10'], { ...TCP, SWITCHYARD_PMIX_ADDON: join(state, 'missing.node') });
    expect(job.code).not.toBe(0);
    expect(job.stderr).toMatch(/this process was started by a PMIx launcher \(PMIX_NAMESPACE=\d+, PMIX_RANK=[01]\), but @switchyard\/pmix: the PMIx addon is unavailable: Cannot find module/);
    expect(job.stderr).toContain('install libpmix-dev');
  });

  it('fails init with a clear error when the controller rank is not a rank of the job', async () => {
    const job = await mpirun(2, 'ordering.mjs', ['10'], { ...TCP, SWITCHYARD_CONTROLLER_RANK: '5' });
    expect(job.code).not.toBe(0);
    expect(job.stderr).toContain("SWITCHYARD_CONTROLLER_RANK must be a rank of the job (0 to 1), got '5'");
  });

  it('fails init naming the variable when the ranks disagree on the controller rank (it would split the job between two)', async () => {
    // Open MPI's MPMD form: rank 0 without the variable, ranks 1 and 2 with it.
    const second = [':', '-np', '2', '-x', 'SWITCHYARD_CONTROLLER_RANK=2', process.execPath, 'ordering.mjs', '10'];
    const job = await runUnderMpirun(1, [process.execPath, 'ordering.mjs', '10', ...second], {
      cwd: FIXTURES,
      env: { ...TCP, XDG_STATE_HOME: state },
    });
    expect(job.code).not.toBe(0);
    expect(job.stderr).toContain(
      "SWITCHYARD_CONTROLLER_RANK differs between the ranks of the job (rank 0: unset; ranks 1, 2: '2'): " +
        'every rank must see the same value',
    );
    expect(recordFiles()).toEqual([]);
  });
});

describe.skipIf(skip !== undefined)('switchyard ctl on a job mpirun started', () => {
  let job: BackgroundJob | undefined;
  afterEach(() => {
    job?.kill();
    job = undefined;
  });
  const env = () => ({ XDG_STATE_HOME: state });

  async function verb(...args: string[]) {
    const out = await ctl(['--job', job!.jobId, ...args, '--json'], 90_000, env());
    if (out.code !== 0) throw new Error(`ctl ${args.join(' ')} failed (${out.code}): ${out.stderr}${out.stdout}`);
    return out.json;
  }

  it('switches, unloads, loads and checkpoints under traffic: every message once, in order', async () => {
    job = await startTrafficJob((command) =>
      spawnMpirun(3, [process.execPath, ...command], { cwd: FIXTURES, env: { ...FAST_AND_TCP, ...env() }, timeoutMs: 150_000 }),
    );
    expect(job.jobId).toMatch(/^pmix-/);
    const listed = await ctl(['jobs', '--json'], 30_000, env());
    expect(listed.json.filter((j: any) => j.launcher === 'pmix')).toEqual([
      expect.objectContaining({ jobId: job.jobId, np: 3, launcher: 'pmix', script: join(FIXTURES, 'traffic.mjs') }),
    ]);
    for (let i = 0; i < 2; i++) {
      for (const v of [
        ['switch', 'tcp'],
        ['reset'],
        ['unload', 'openib'],
        ['load', 'openib'],
        ['checkpoint', 'prepare'],
        ['checkpoint', 'continue'],
      ]) {
        expect(await verb(...v)).toMatchObject({ ok: true, outcome: 'done' });
      }
    }
    const status = await verb('status');
    expect(status.ranks.map((r: any) => r.peers.map((p: any) => p.send.map((s: string) => s.split(':')[0]).join('+')))[0]).toEqual([
      'self',
      'openib',
      'openib',
    ]);
    const out = await job.stop();
    expect(out.code).toBe(0);
    const r = results<{ rank: number; iterations: number; received: number[]; errors: number }>(out.stdout).sort((a, b) => a.rank - b.rank);
    expect(r).toHaveLength(3);
    for (const x of r) {
      expect(x.errors).toBe(0);
      expect(x.received).toEqual([0, 1, 2].map((peer) => (peer === x.rank ? 0 : x.iterations)));
    }
    expect(recordFiles()).toEqual([]);
  }, 180_000);

  it('reaches the controller directly with --controller and --secret-file; a wrong secret is refused', async () => {
    job = await startTrafficJob((command) =>
      spawnMpirun(2, [process.execPath, ...command], { cwd: FIXTURES, env: { ...TCP, ...env() }, timeoutMs: 90_000 }),
    );
    const record = JSON.parse(readFileSync(join(records, `${job.jobId}.json`), 'utf8'));
    const secretFile = join(state, 'secret');
    writeFileSync(secretFile, `${record.secret}\n`, { mode: 0o600 });
    // No record to go by: another state directory.
    const elsewhere = { XDG_STATE_HOME: join(state, 'nowhere') };
    const direct = await ctl(['--controller', record.controller, '--secret-file', secretFile, 'status', '--json'], 30_000, elsewhere);
    expect(direct.stderr).toBe('');
    expect(direct.json).toMatchObject({ jobId: job.jobId, size: 2, ranks: [{ rank: 0 }, { rank: 1 }] });
    // The verbs' coordinator is a rank here, not a launcher of ours: the status says which.
    const text = await ctl(['--controller', record.controller, '--secret-file', secretFile, 'status'], 30_000, elsewhere);
    expect(text.stdout).toMatch(
      new RegExp(`^job ${job.jobId} \\(controller: rank process on \\S+, pid ${direct.json.ranks[0].pid}\\): 2 ranks`),
    );
    writeFileSync(secretFile, 'f'.repeat(64));
    const refused = await ctl(['--controller', record.controller, '--secret-file', secretFile, 'status'], 30_000, elsewhere);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot reach job .*refused this connection: wrong job secret/);
    expect((await job.stop()).code).toBe(0);
  }, 120_000);

  it('leaves no rank and no record behind when mpirun itself is killed', async () => {
    job = await startTrafficJob((command) =>
      spawnMpirun(2, [process.execPath, ...command], { cwd: FIXTURES, env: { ...TCP, ...env() }, timeoutMs: 90_000 }),
    );
    const pids: number[] = (await verb('status')).ranks.map((r: any) => r.pid);
    expect(pids).toHaveLength(2);
    expect(recordFiles()).toEqual([`${job.jobId}.json`]);
    // mpirun is the child of `timeout`; SIGKILL gives it no chance to stop its ranks.
    const mpirunPid = Number(readFileSync(`/proc/${job.child.pid}/task/${job.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    process.kill(mpirunPid, 'SIGKILL');
    // The ranks notice they were orphaned (PMIx gives no event for it), exit and take the record along.
    try {
      for (let waited = 0; pids.some(alive) && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      expect(pids.filter(alive)).toEqual([]);
      expect(recordFiles()).toEqual([]);
    } finally {
      // mpirun puts its ranks in process groups of their own: the job's group kill misses them.
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);

  it('lists a record whose controller is gone as stale, and does not fail', async () => {
    const dead = {
      jobId: 'pmix-gone',
      size: 2,
      controller: '127.0.0.1:1',
      addresses: ['127.0.0.1:1'],
      secret: 'e'.repeat(64),
      pid: 999_999,
      host: 'elsewhere',
      started: new Date().toISOString(),
      script: 's.mjs',
      args: [],
      cwd: '/',
      launcher: 'pmix',
    };
    spawnSync('mkdir', ['-p', records]);
    writeFileSync(join(records, 'pmix-gone.json'), JSON.stringify(dead), { mode: 0o600 });
    try {
      const listed = await ctl(['jobs'], 30_000, env());
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^pmix-gone +2 +\S+ \S+ +pmix +999999@elsewhere +stale \(controller not answering\) +s\.mjs$/m);
      const reached = await ctl(['--job', 'pmix-gone', 'status'], 30_000, env());
      expect(reached.code).toBe(1);
      expect(reached.stderr).toContain('job pmix-gone has a record but its controller (127.0.0.1:1) does not answer');
    } finally {
      rmSync(join(records, 'pmix-gone.json'), { force: true });
    }
  });
});

describe('a script run with plain node', () => {
  it('is a singleton job of one rank', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PMIX_') && !k.startsWith('SWITCHYARD_')));
    const out = spawnSync(process.execPath, ['singleton.mjs'], { cwd: FIXTURES, env, encoding: 'utf8', timeout: 30_000 });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(results(out.stdout)).toEqual([{ rank: 0, size: 1, jobId: expect.stringMatching(/^singleton-\d+$/), echo: 'to myself', sum: 42 }]);
  });
});
