import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { softVerbsFolder } from '@switchyard/verbs/admin';
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { ctl, startTrafficJob, type BackgroundJob, type JobLauncher } from './helpers/ctl.js';
import { alive, CLI, FIXTURES } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// btl-sm's promise about /dev/shm: a job killed outright (SIGKILL: no exit handler, no finalize)
// leaves none of its segments behind, because each is unlinked before any peer maps it.
let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

const jobSegments = (jobId: string): string[] => {
  const stem = `switchyard-sm-${jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return readdirSync('/dev/shm').filter((name) => name.startsWith(stem));
};

/** The job's sm segments process `pid` maps, by name. */
const mappedSegments = (pid: number, jobId: string): Set<string> => {
  const stem = `/dev/shm/switchyard-sm-${jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes(stem));
  return new Set(lines.map((l) => l.slice(l.indexOf(stem))));
};

describe('btl-sm segments', () => {
  it('are mapped by every rank yet absent from /dev/shm, and a job killed with SIGKILL leaves none', async () => {
    job = await startTrafficJob(['-n', '4', '--mca', 'btl', 'sm,self']);
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'sm', 'sm', 'sm']);
    const status = await verb(job.jobId, 'status');
    const pids: number[] = status.ranks.map((r: { pid: number }) => r.pid);
    for (const pid of pids) {
      // Its own segment and its three peers': shared mappings whose names are already gone.
      const mapped = mappedSegments(pid, job.jobId);
      expect(mapped.size, `rank pid ${pid}`).toBe(4);
      for (const m of mapped) expect(m).toMatch(/ \(deleted\)$/);
    }
    expect(jobSegments(job.jobId)).toEqual([]);
    // Mid-run, traffic flowing: the launcher's whole process group at once.
    process.kill(-job.child.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
    expect(jobSegments(job.jobId)).toEqual([]);
  }, 60_000);

  it('are unmapped by every rank when sm is unloaded, so nothing of it is left for a checkpoint to save', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'sm,tcp,self']);
    const status = await verb(job.jobId, 'status');
    const pids: number[] = status.ranks.map((r: { pid: number }) => r.pid);
    expect(pids.map((pid) => mappedSegments(pid, job!.jobId).size)).toEqual([3, 3, 3]);
    // Rank 1 alone leaves sm: the others unmap its segment, it unmaps all three.
    expect(await verb(job.jobId, 'unload', 'sm', '--ranks', '1')).toMatchObject({ ok: true, outcome: 'done' });
    expect(pids.map((pid) => mappedSegments(pid, job!.jobId).size)).toEqual([2, 0, 2]);
    expect(await verb(job.jobId, 'unload', 'sm', '--ranks', '0,2')).toMatchObject({ ok: true, outcome: 'done' });
    expect(pids.map((pid) => mappedSegments(pid, job!.jobId).size)).toEqual([0, 0, 0]);
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp', 'tcp']);
    const out = await job.stop();
    expect(out.code).toBe(0);
  }, 90_000);
});

describe('soft verbs segments (openib over the software provider)', () => {
  it('are mapped by the ranks yet absent from /dev/shm, and a job killed with SIGKILL leaves none', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'openib,self', '--mca', 'btl_openib_provider', 'soft']);
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'openib', 'openib']);
    const status = await verb(job.jobId, 'status');
    const pids: number[] = status.ranks.map((r: { pid: number }) => r.pid);
    const stems = pids.flatMap((pid) => [`switchyard-verbs-${pid}-`, `switchyard-verbs-mr-${pid}-`]);
    const ours = (): string[] => readdirSync('/dev/shm').filter((name) => stems.some((stem) => name.startsWith(stem)));
    for (const pid of pids) {
      // Its links (as requester and responder) and its peers' region tables: names already gone.
      const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('/dev/shm/switchyard-verbs-'));
      expect(lines.length, `rank pid ${pid}`).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatch(/ \(deleted\)$/);
    }
    expect(ours()).toEqual([]);
    process.kill(-job.child.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
    expect(ours()).toEqual([]);
  }, 60_000);

  it('a rank killed with SIGKILL aborts the job, and its launcher leaves none of the ranks\' device sockets', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'openib,self', '--mca', 'btl_openib_provider', 'soft']);
    const pids: number[] = (await verb(job.jobId, 'status')).ranks.map((r: { pid: number }) => r.pid);
    const folder = join(tmpdir(), `switchyard-${process.getuid!()}`, softVerbsFolder());
    // A soft device's sockets are named by its owner's pid (8 hex digits), then random digits.
    const sockets = () => readdirSync(folder).filter((name) => pids.some((pid) => name.startsWith(pid.toString(16).padStart(8, '0'))));
    expect(sockets().length).toBeGreaterThanOrEqual(2);
    const ended = new Promise((resolve) => job!.child.once('exit', resolve));
    process.kill(pids[1]!, 'SIGKILL');
    await ended;
    expect(pids.filter(alive)).toEqual([]);
    expect(sockets()).toEqual([]);
  }, 60_000);
});

/** Whether this machine can give a job a /dev/shm of its own (a mount namespace: root). */
function privateShmSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'a private /dev/shm needs root (unshare -m)';
  const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
  return probe.status === 0 ? undefined : `unshare -m does not work here: ${probe.stderr}`;
}

describe.skipIf(privateShmSkipReason() !== undefined)('a full /dev/shm', () => {
  it('leaves sm out of a job (it runs on tcp); ctl load sm fails and changes nothing; with room again it loads', async () => {
    // The job in a mount namespace of its own whose /dev/shm is a small tmpfs with no room left.
    const launch: JobLauncher = (command) =>
      spawn(
        'unshare',
        [
          '-m', '--propagation', 'private', 'sh', '-c',
          'mount -t tmpfs -o size=64M tmpfs /dev/shm && fallocate -l 64M /dev/shm/fill && exec "$@"', 'sh',
          process.execPath, CLI, 'run', '-n', '2', ...command.slice(0, 1).map((s) => join(FIXTURES, s)),
          ...command.slice(1),
        ],
        { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
    job = await startTrafficJob(launch);
    expect(await sendLists(job.jobId)).toEqual([['self', 'tcp'], ['tcp', 'self']]);
    const refused = await ctl(['--job', job.jobId, 'load', 'sm', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/loading btl 'sm' failed: posix_fallocate \(is \/dev\/shm full\?\): No space left on device/);
    expect(await sendLists(job.jobId)).toEqual([['self', 'tcp'], ['tcp', 'self']]);

    const rank0 = (await verb(job.jobId, 'status')).ranks[0].pid as number;
    expect(spawnSync('nsenter', ['-t', String(rank0), '-m', 'rm', '/dev/shm/fill']).status).toBe(0);
    expect(await verb(job.jobId, 'load', 'sm')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual([['self', 'sm'], ['sm', 'self']]);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 120_000);
});
