import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { criuSkipReason, jacobiJobId, killGroups, waitFor, watch, type Watched } from './helpers/criu.js';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { alive, CLI, FIXTURES, ROOT } from './helpers/run-job.js';
import { exitReportPath } from '@switchyard/runtime';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// A real checkpoint: `switchyard ctl checkpoint save` dumps a running job (launcher and ranks)
// with CRIU, its processes go, `switchyard restore` brings it back, and it finishes as if
// nothing happened. Needs root and CRIU 4.2+ (scripts/get-criu.sh); CI has both.
const skip = criuSkipReason();

const SOFT_OPENIB = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
// sm too: its segments must be unmapped by prepare, or CRIU refuses the save (a deleted shared file).
const SM_AND_SOFT_OPENIB = ['--mca', 'btl', 'sm,openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
const JACOBI = 'examples/jacobi/jacobi.mjs';
/** More iterations than a test lets run: it stops the job with the stop file. */
const LONG_RUN = 50_000_000;

let scratch: string | undefined;
const groups: number[] = [];
afterEach(() => {
  killGroups(groups.splice(0));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

function folder(): string {
  scratch = mkdtempSync(join(tmpdir(), 'sy-criu-'));
  return scratch;
}

/** A job of `switchyard run`, detached as a user's `setsid`; its group is killed after the test. */
function startJob(args: string[]): Watched {
  const job = watch(['run', ...args]);
  groups.push(job.child.pid!);
  return job;
}

/** Jacobi on 2 ranks, once it computes: rank 0 printed its job line after init. */
async function startJacobi(iterations: number, mca = SOFT_OPENIB, stopFile?: string): Promise<{ job: Watched; jobId: string }> {
  const job = startJob(['-n', '2', ...mca, JACOBI, '2000', String(iterations), ...(stopFile ? [stopFile] : [])]);
  await waitFor(job, (out) => /^job \S+:/m.test(out));
  return { job, jobId: jacobiJobId(job.stdout()) };
}

function manifestOf(dir: string) {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

async function save(jobId: string, dir: string, ...extra: string[]) {
  return ctl(['--job', jobId, 'checkpoint', 'save', dir, '--json', ...extra], 120_000);
}

/** `switchyard restore DIR ...`; resolves with its output and the restored job's, once the job ended. */
async function restore(dir: string, ...extra: string[]) {
  const restored = watch(['restore', dir, ...extra]);
  const pid = manifestOf(dir).launcherPid as number;
  groups.push(pid);
  return restored;
}

async function gone(pids: number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(pids.filter(alive), 'processes still running after the save').toEqual([]);
}

/**
 * Starts `ctl checkpoint save DIR --json` while rank 1 of a busy.mjs job computes for 4 s, and
 * returns once the save is in checkpoint prepare (waiting for that rank).
 */
async function saveWhileRankBusy(job: SteeredJob, dir: string): Promise<Watched> {
  writeFileSync(join(job.dir, 'busy-0'), '4000');
  writeFileSync(join(job.dir, 'go-0'), '');
  while (!existsSync(join(job.dir, 'busy-started-0'))) await new Promise((r) => setTimeout(r, 20));
  const saving = watch(['ctl', '--job', job.jobId, 'checkpoint', 'save', dir, '--json']);
  await said(saving, 'checkpoint prepare');
  return saving;
}

/** Waits until `w` printed `text` on stderr (a step of `checkpoint save` begun), failing after 30 s. */
async function said(w: Watched, text: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!w.stderr().includes(text)) {
    if (Date.now() > deadline) throw new Error(`'${text}' not said in time:\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MATCH = /heat sum (\S+) \(sequential reference (\S+)\): MATCH/;

describe.skipIf(skip !== undefined)('checkpoint save and restore with CRIU', () => {
  it('Jacobi with openib (soft) and tcp: saved mid-run, its processes gone, restored, continued: MATCH', async () => {
    const base = folder();
    const dir = join(base, 'ckpt');
    // It runs until told to stop: a fixed count ended before the save on a machine whose busy
    // neighbours keep its vCPUs awake (100,000 iterations took 1.6 s there, 6 s idle).
    const stop = join(base, 'stop');
    const { job, jobId } = await startJacobi(LONG_RUN, SOFT_OPENIB, stop);
    const before = (await verb(jobId, 'status')).ranks.map((r: { pid: number }) => r.pid);
    const saved = await save(jobId, dir);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.json).toMatchObject({ ok: true, manifest: { jobId, np: 2, unloadedByPrepare: ['openib'], leaveRunning: false } });
    const m = manifestOf(dir);
    expect(m.criu.version).toMatch(/^\d+\.\d+/);
    expect(m.ranks.map((r: { pid: number }) => r.pid)).toEqual(before);
    expect(m.ranks[0].components.map((c: { name: string }) => c.name).sort()).toEqual(['openib', 'self', 'tcp']);
    expect(m.sizes.imagesBytes).toBeGreaterThan(1e6);
    expect(m.times.dumpMs).toBeGreaterThan(0);
    // The job is gone: the launcher's output closed (it was killed by CRIU), the ranks too.
    const ended = await job.closed;
    // Its terminal was told why before CRIU stopped it, and what brings it back.
    expect(ended.stderr).toContain(`job ${jobId}: checkpoint save (pid `);
    expect(ended.stderr).toContain(`is saving it to ${dir}; once saved, this launcher and its ranks are stopped`);
    expect(ended.stderr).toContain(`'switchyard restore ${dir}' resumes the job`);
    await gone([m.launcherPid, ...before]);
    expect((await ctl(['jobs', '--json'])).json.map((j: { jobId: string }) => j.jobId)).not.toContain(jobId);

    // A CRIU that never finishes (damaged images can make it spin) is stopped with what it started.
    const hanging = join(base, 'criu-hangs');
    const started = join(base, 'hanging-pids');
    writeFileSync(
      hanging,
      `#!/bin/sh\ncase "$1" in --version) echo "Version: 4.2.1";; check) echo "Looks good.";;\n` +
        `restore) sleep 300 & echo "$$ $!" > ${started}; wait;; esac\n`,
    );
    chmodSync(hanging, 0o755);
    const env = { ...process.env, SWITCHYARD_MCA_crs_criu_restore_timeout: '2' };
    const stopped = await watch(['restore', dir, '--criu', hanging], true, env).closed;
    expect(stopped.code, stopped.stderr).toBe(1);
    expect(stopped.stderr).toMatch(/criu restore did not finish within 2 s \(crs_criu_restore_timeout\): stopped it/);
    await gone(readFileSync(started, 'utf8').trim().split(' ').map(Number));
    // So is one whose restore is told to stop (Ctrl-C), which says so.
    rmSync(started);
    const interrupted = watch(['restore', dir, '--criu', hanging]);
    while (!existsSync(started) && interrupted.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    interrupted.child.kill('SIGINT');
    const cut = await interrupted.closed;
    expect(cut.code, cut.stderr).toBe(1);
    expect(cut.stderr).toContain('stopped by SIGINT: criu restore and the processes it had restored so far were killed');
    await gone(readFileSync(started, 'utf8').trim().split(' ').map(Number));
    // A restore of the same folder already under way (here: this test's process holds it) is refused.
    writeFileSync(join(dir, 'restore.lock'), `${process.pid}\n`);
    const twice = await watch(['restore', dir, '--json']).closed;
    expect(twice.code).toBe(1);
    expect(JSON.parse(twice.stdout).message).toBe(`${dir} is being restored by another 'switchyard restore' (pid ${process.pid})`);
    rmSync(join(dir, 'restore.lock'));

    const restored = await restore(dir, '--wait');
    await waitFor(restored, (out) => out.includes('checkpoint continue: done'), 60_000);
    // Found again by the tools, with the same ranks, openib loaded again and carrying traffic.
    expect((await ctl(['jobs', '--json'])).json.map((j: { jobId: string }) => j.jobId)).toContain(jobId);
    expect((await verb(jobId, 'status')).ranks.map((r: { pid: number }) => r.pid)).toEqual(before);
    expect((await sendLists(jobId))[0]).toEqual(['self', 'openib']);
    expect(existsSync(join(dir, 'restore.lock'))).toBe(false);
    // --wait: restore is still there while the job runs, and ends with it, with its exit status.
    expect(restored.child.exitCode).toBe(null);
    writeFileSync(stop, '');
    const out = await restored.closed;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout, out.stderr).toMatch(MATCH);
    expect(out.stdout).toMatch(/done: \d+ iterations/);
    expect(out.stdout).toContain(`restore: job ${jobId} ended: exit status 0`);
    expect(readdirSync(dirname(exitReportPath(jobId, 1))).filter((n) => n.startsWith('exit-'))).toEqual([]);
  }, 180_000);

  it('restore --wait: Ctrl-C stops the restored job, as on run, and restore exits with the status the launcher reported', async () => {
    const dir = join(folder(), 'ckpt');
    const { job, jobId } = await startJacobi(LONG_RUN, ['--mca', 'btl', 'tcp,self']);
    const saved = await save(jobId, dir);
    expect(saved.code, saved.stderr).toBe(0);
    await job.closed;
    const restored = await restore(dir, '--wait', '--json');
    const launcher = manifestOf(dir).launcherPid as number;
    // The job runs again once its launcher is listed (restore's JSON comes only at the end).
    const deadline = Date.now() + 60_000;
    while (!(await ctl(['jobs', '--json'])).json.some((j: { jobId: string }) => j.jobId === jobId) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1000));
    expect(restored.child.exitCode).toBe(null);
    restored.child.kill('SIGINT');
    const out = await restored.closed;
    expect(out.stderr).toContain("switchyard restore: SIGINT: passed to the job's launcher");
    expect(out.stderr).toContain('received SIGINT; aborting the job');
    expect(out.code, out.stderr).toBe(130);
    const answer = JSON.parse(out.stdout);
    expect(answer).toMatchObject({ ok: true, jobId, resume: { ok: true }, ended: { exitCode: 130, abortReason: 'received SIGINT' } });
    expect(alive(launcher)).toBe(false);
  }, 120_000);

  it('the all-to-all stream over sm and openib: saved, restored with --restart (tcp re-wired): every message once, in order', async () => {
    const dir = join(folder(), 'ckpt');
    const steer = join(scratch!, 'steer');
    mkdirSync(steer);
    const job = startJob(['-n', '3', ...SM_AND_SOFT_OPENIB, join(FIXTURES, 'traffic.mjs'), join(steer, 'stop'), join(steer, 'ready')]);
    while (!existsSync(join(steer, 'ready')) || !readFileSync(join(steer, 'ready'), 'utf8')) await new Promise((r) => setTimeout(r, 50));
    const jobId = readFileSync(join(steer, 'ready'), 'utf8');
    await new Promise((r) => setTimeout(r, 1000));
    const saved = await save(jobId, dir);
    expect(saved.code, saved.stderr).toBe(0);
    await job.closed;

    // Ctrl-C just after CRIU restored the job (a CRIU that sends it to the restore command as it
    // ends): the job runs again, so its record and resume are finished, not cut.
    const criu = join(scratch!, 'criu-then-ctrl-c');
    const real = manifestOf(dir).criu.path as string;
    writeFileSync(
      criu,
      `#!/bin/sh
case "$1" in
  restore) ${real} "$@"; rc=$?; (sleep 0.05; kill -INT $PPID) & exit $rc;;
` +
        `  *) exec ${real} "$@";;
esac
`,
    );
    chmodSync(criu, 0o755);
    const output = join(scratch!, 'job.out');
    const restored = await restore(dir, '--restart', '--output-filename', output, '--json', '--criu', criu);
    const answer = await restored.closed;
    expect(answer.code, answer.stderr).toBe(0);
    expect(answer.stderr).toMatch(/switchyard restore: SIGINT(: the job runs again| came as CRIU finished)/);
    const result = JSON.parse(answer.stdout);
    expect(result.resume.ok).toBe(true);
    // restart: tcp unloaded and loaded again (new listeners, new connections), sm and openib back.
    const back = ['unloaded tcp', expect.stringMatching(/^loaded tcp/), expect.stringMatching(/^loaded openib/), expect.stringMatching(/^loaded sm/)];
    for (const r of result.resume.changes) expect(r.changes).toEqual(expect.arrayContaining(back));
    await new Promise((r) => setTimeout(r, 1000));
    writeFileSync(join(steer, 'stop'), '1');
    const launcher = manifestOf(dir).launcherPid as number;
    const deadline = Date.now() + 60_000;
    while (alive(launcher) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(launcher)).toBe(false);
    expectExactlyOnceInOrder(readFileSync(output, 'utf8'), 3);
  }, 180_000);

  it('--leave-running: the job runs on to MATCH; the checkpoint restores it again from the save point, output to its files', async () => {
    const base = folder();
    const dir = join(base, 'ckpt');
    const stop = join(base, 'stop');
    // Its output goes to a file (`> job.log 2>&1`, not appending), which grows after the save: the
    // restored job writes on at its end. So do the per-rank files of --output-filename.
    const log = join(base, 'job.log');
    const rankLog = join(base, 'out', '1', 'rank.0', 'stdout');
    const fd = openSync(log, 'w');
    const run = ['run', '-n', '2', '--output-filename', join(base, 'out'), ...SOFT_OPENIB, JACOBI, '2000', String(LONG_RUN), stop];
    const child = spawn(process.execPath, [CLI, ...run], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    groups.push(child.pid!);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 30_000;
    while (!/^job \S+:/m.test(readFileSync(log, 'utf8')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const jobId = jacobiJobId(readFileSync(log, 'utf8'));
    const saved = await save(jobId, dir, '--leave-running');
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.json.manifest).toMatchObject({ leaveRunning: true, times: { continueMs: expect.any(Number) } });
    // Running on, with openib back.
    expect((await sendLists(jobId))[0]).toEqual(['self', 'openib']);
    // Restoring it while it runs is refused.
    const early = watch(['restore', dir, '--json']);
    const refusal = await early.closed;
    expect(refusal.code).toBe(1);
    expect(JSON.parse(refusal.stdout)).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_JOB' });
    writeFileSync(stop, '');
    expect(await exited, readFileSync(log, 'utf8')).toBe(0);
    const first = readFileSync(log, 'utf8');
    expect(first).toMatch(MATCH);
    // A copy: the job was not stopped, so its log says nothing of being stopped.
    expect(first).not.toContain('checkpoint save (pid');
    const firstOfRank = readFileSync(rankLog, 'utf8');
    expect(firstOfRank).toMatch(MATCH);

    // The restored job runs on from the save point until told to stop, once it is continued.
    rmSync(stop);
    const restored = await restore(dir);
    await waitFor(restored, (out) => out.includes('checkpoint continue: done'), 60_000);
    writeFileSync(stop, '');
    const again = await restored.closed;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('checkpoint continue: done');
    const launcher = manifestOf(dir).launcherPid as number;
    const until = Date.now() + 60_000;
    while (alive(launcher) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    // What the job wrote before, then the restored run's lines after them.
    const all = readFileSync(log, 'utf8');
    expect(all.startsWith(first)).toBe(true);
    expect(all.slice(first.length)).toMatch(MATCH);
    const allOfRank = readFileSync(rankLog, 'utf8');
    expect(allOfRank.startsWith(firstOfRank)).toBe(true);
    expect(allOfRank.slice(firstOfRank.length)).toMatch(MATCH);
    expect(manifestOf(dir).outputFiles).toEqual(expect.arrayContaining([rankLog]));
  }, 180_000);

  it('Ctrl-C while checkpoint prepare waits for a busy rank: save stops there, undoes prepare, DIR as it was', async () => {
    const base = folder();
    const job = await startSteeredJob(['-n', '2', '--mca', 'btl', 'sm,tcp,self'], 'busy.mjs', (dir) => [dir, '1']);
    try {
      const lists = await sendLists(job.jobId);
      const dir = join(base, 'ck');
      const saving = await saveWhileRankBusy(job, dir);
      saving.child.kill('SIGINT');
      const out = await saving.closed;
      expect(out.code, out.stderr).toBe(1);
      expect(out.stderr).toContain('SIGINT: stopping before the dump; what checkpoint prepare changed is undone');
      expect(JSON.parse(out.stdout)).toMatchObject({ ok: false, outcome: 'refused', message: 'stopped by SIGINT before the dump' });
      expect(existsSync(dir)).toBe(false);
      // The job runs on as before: its transports back, nothing prepared.
      expect(await sendLists(job.jobId)).toEqual(lists);
      expect((await verb(job.jobId, 'status')).ranks.every((r: { checkpoint?: string }) => r.checkpoint === undefined)).toBe(true);
      const end = await job.stop();
      expect(end.code, end.stderr).toBe(0);
      // The job's terminal, told the save would stop it, is told it did not.
      expect(end.stderr).toMatch(new RegExp(`job ${job.jobId}: checkpoint save \\(pid \\d+\\) did not save it; it runs on`));
    } finally {
      job.kill();
    }
  }, 120_000);

  it('a rank killed while checkpoint prepare waits for it: save fails saying the job is being aborted, not "nothing changed"', async () => {
    const base = folder();
    const job = await startSteeredJob(['-n', '2', '--mca', 'btl', 'sm,tcp,self'], 'busy.mjs', (dir) => [dir, '1']);
    try {
      const busy = (await verb(job.jobId, 'status')).ranks[1].pid as number;
      const dir = join(base, 'ck');
      const saving = await saveWhileRankBusy(job, dir);
      process.kill(busy, 'SIGKILL');
      const out = await saving.closed;
      expect(out.code, out.stderr).toBe(1);
      expect(out.stderr).toMatch(/checkpoint prepare refused: .*the job is being aborted: rank 1 \(pid \d+\) was killed by signal SIGKILL/);
      expect(out.stderr).toContain(`; ${dir} is as it was`);
      expect(out.stderr).not.toContain('nothing changed');
      expect(JSON.parse(out.stdout)).toMatchObject({ ok: false, outcome: 'failed' });
      expect(existsSync(dir)).toBe(false);
      expect((await job.stop()).code).not.toBe(0);
    } finally {
      job.kill();
    }
  }, 120_000);

  it('a hangup (the ssh session gone) while CRIU dumps the job: save says it finishes first, and the checkpoint is complete', async () => {
    const base = folder();
    const { job, jobId } = await startJacobi(LONG_RUN, ['--mca', 'btl', 'tcp,self']);
    const criu = join(base, 'slow-criu');
    const real = execFileSync('sh', ['-c', 'command -v criu'], { encoding: 'utf8' }).trim();
    writeFileSync(criu, `#!/bin/sh\n[ "$1" = dump ] && sleep 1\nexec ${real} "$@"\n`);
    chmodSync(criu, 0o755);
    const dir = join(base, 'ck');
    const saving = watch(['ctl', '--job', jobId, 'checkpoint', 'save', dir, '--criu', criu]);
    await said(saving, 'dumping the launcher');
    saving.child.kill('SIGHUP');
    const out = await saving.closed;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain("SIGHUP: CRIU holds the job's processes, and stopping now would lose them; the save finishes first");
    expect(out.stdout).toContain(`job ${jobId} saved in ${dir}`);
    expect(manifestOf(dir)).toMatchObject({ jobId, np: 2 });
    await job.closed;
  }, 120_000);

  it('a rank killed while the job is being saved: save names it, says the job ended, nothing saved, keeps the CRIU log', async () => {
    const base = folder();
    const { job, jobId } = await startJacobi(LONG_RUN, ['--mca', 'btl', 'tcp,self']);
    const ranks = (await verb(jobId, 'status')).ranks as Array<{ rank: number; pid: number }>;
    const victim = ranks.find((r) => r.rank === 1)!;
    // CRIU as installed, late: the job's launcher is stopped for 2 s first, as CRIU holds it while
    // it dumps (the launcher cannot react to the kill before the dump fails), so the kill lands then.
    const criu = join(base, 'slow-criu');
    const real = execFileSync('sh', ['-c', 'command -v criu'], { encoding: 'utf8' }).trim();
    const slow = `if [ "$1" = dump ]; then kill -STOP "$3"; sleep 2; kill -CONT "$3"; fi\nexec ${real} "$@"\n`;
    writeFileSync(criu, `#!/bin/sh\n${slow}`);
    chmodSync(criu, 0o755);
    const dir = join(base, 'ck');
    const saving = watch(['ctl', '--job', jobId, 'checkpoint', 'save', dir, '--json', '--criu', criu]);
    await said(saving, 'dumping the launcher');
    process.kill(victim.pid, 'SIGKILL');
    const out = await saving.closed;
    expect(out.code, out.stderr).toBe(1);
    const answer = JSON.parse(out.stdout);
    expect(answer).toMatchObject({ ok: false, outcome: 'failed', code: 'ERR_SWITCHYARD_CHECKPOINT_JOB' });
    // Named among the ranks first seen gone: on a loaded machine rank 0, stopped by the launcher
    // as soon as CRIU lets it go, may be seen gone in the same look.
    const named = new RegExp(`rank (\\d+ \\(pid \\d+\\), )*1 \\(pid ${victim.pid}\\) ended while CRIU was dumping the job`);
    expect(answer.message).toMatch(named);
    expect(answer.message).toContain(`job ${jobId} has ended: nothing was saved`);
    expect(out.stderr).not.toContain('nothing changed');
    expect(existsSync(dir)).toBe(false);
    // The log CRIU wrote is kept outside the removed folder, where the message says.
    const log = /\(log: ([^\s)]+)\)/.exec(answer.message)?.[1];
    expect(log).toBeDefined();
    onTestFinished(() => rmSync(dirname(log!), { recursive: true, force: true }));
    expect(log!.startsWith(base)).toBe(false);
    // CRIU's own log (how far it got depends on when the rank died: a line or a whole dump).
    expect(readFileSync(log!, 'utf8')).toMatch(/\(criu\/|dump/i);
    const ended = await job.closed;
    expect(ended.stderr).toContain(`rank 1 (pid ${victim.pid}) was killed by signal SIGKILL`);
  }, 120_000);

  it("refuses a checkpoint folder another user planted, and a saved job folder that is not this user's; nothing touched", async () => {
    const base = folder();
    const precious = join(base, 'precious');
    mkdirSync(join(precious, 'sub'), { recursive: true });
    writeFileSync(join(precious, 'sub', 'data.txt'), 'important');
    const plant = (name: string, jobDir: string) => {
      const dir = join(base, name);
      mkdirSync(join(dir, 'images'), { recursive: true });
      const ids = { pids: [999_999], tids: [999_999] };
      const manifest = { format: 1, jobId: 'evil1', np: 1, ids, criu: { path: '/usr/local/sbin/criu', version: '4.2.1' }, shellJob: false };
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, stdio: [], outputFiles: [join(base, 'made', 'out.log')] }));
      const record = { jobId: 'evil1', pid: 999_999, np: 1, jobDir, socketPath: join(jobDir, 'hnp.sock'), secret: 'x' };
      writeFileSync(join(dir, 'job.json'), JSON.stringify(record));
      return dir;
    };
    // Another user's folder (root may chown; otherwise one every user may write).
    const theirs = plant('theirs', precious);
    if (process.getuid?.() === 0) for (const f of ['', 'manifest.json', 'job.json', 'images']) chownSync(join(theirs, f), 65534, 65534);
    else chmodSync(theirs, 0o777);
    const refused = await watch(['restore', theirs, '--json']).closed;
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_DIR' });
    expect(refused.stderr).toMatch(/refused to restore .*theirs: .*theirs (is owned by|is writable by every user)/);
    // This user's own folder, whose record names a folder that is no job folder of this user's.
    const mine = await watch(['restore', plant('mine', precious), '--json']).closed;
    expect(mine.code).toBe(1);
    expect(mine.stderr).toContain(`refused to restore: its job folder ${precious} is not `);
    // Named like a job folder, but not in this user's own job folder.
    const lookalike = join(base, `switchyard-${process.getuid!()}`, 'job-evil1');
    mkdirSync(lookalike, { recursive: true });
    writeFileSync(join(lookalike, 'precious'), 'important');
    const named = await watch(['restore', plant('named', lookalike), '--json']).closed;
    expect(named.code).toBe(1);
    expect(named.stderr).toContain(`refused to restore: its job folder ${lookalike} is not `);
    expect(readFileSync(join(lookalike, 'precious'), 'utf8')).toBe('important');
    expect(readFileSync(join(precious, 'sub', 'data.txt'), 'utf8')).toBe('important');
    expect(existsSync(join(base, 'made'))).toBe(false);
  }, 60_000);

  it('refusals: DIR not empty, CRIU missing or too old, a transport prepare cannot unload; nothing changed', async () => {
    const base = folder();
    const { job, jobId } = await startJacobi(5_000_000, ['--mca', 'btl', 'openib,self', '--mca', 'btl_openib_provider', 'soft']);
    const statusBefore = await sendLists(jobId);

    const full = join(base, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    const notEmpty = await save(jobId, full);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_DIR' });
    expect(notEmpty.stderr).toContain('not empty');
    expect(readdirSync(full)).toEqual(['keep.txt']);

    // A link to nowhere, and a path under a file: refused before the job is touched, the link kept.
    const dangling = join(base, 'dangling');
    symlinkSync(join(base, 'nowhere', 'y'), dangling);
    const linked = await save(jobId, dangling);
    expect(linked.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_DIR' });
    expect(linked.stderr).toContain(`${dangling} is a symbolic link to ${join(base, 'nowhere', 'y')}, which does not exist`);
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
    const underFile = await save(jobId, join(full, 'keep.txt', 'sub'));
    expect(underFile.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_DIR' });
    expect(underFile.stderr).toMatch(/cannot use .*keep\.txt\/sub: ENOTDIR/);

    const missing = await save(jobId, join(base, 'a'), '--criu', join(base, 'no-criu'));
    expect(missing.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CRIU_MISSING' });
    expect(missing.stderr).toContain('scripts/get-criu.sh');
    const old = join(base, 'criu-4.1');
    writeFileSync(old, '#!/bin/sh\necho "Version: 4.1.1"\n');
    chmodSync(old, 0o755);
    const tooOld = await save(jobId, join(base, 'b'), '--criu', old);
    expect(tooOld.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CRIU_TOO_OLD' });
    expect(tooOld.stderr).toMatch(/4\.1\.1.*4\.2 or newer/);

    // openib is not checkpointable and the only transport between the ranks: prepare refuses.
    const stuck = await save(jobId, join(base, 'c'));
    expect(stuck.code).toBe(1);
    expect(stuck.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_CHECKPOINT_JOB' });
    expect(stuck.stderr).toContain('no checkpointable transport');
    for (const d of ['a', 'b', 'c']) expect(existsSync(join(base, d))).toBe(false);

    // Nothing changed: the same transports carry the traffic, no checkpoint prepared.
    expect(await sendLists(jobId)).toEqual(statusBefore);
    expect((await verb(jobId, 'status')).ranks.every((r: { checkpoint?: string }) => r.checkpoint === undefined)).toBe(true);
    const notACheckpoint = await watch(['restore', full]).closed;
    expect(notACheckpoint.code).toBe(1);
    expect(notACheckpoint.stderr).toContain('manifest.json');
    job.child.kill('SIGTERM');
    await job.closed;
  }, 120_000);
});
