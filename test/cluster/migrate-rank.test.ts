import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { listHosts, probeCriu } from '@switchyard/control';
import { ctl, startTrafficJob } from '../helpers/ctl.js';
import { alive, CLI, FIXTURES } from '../helpers/run-job.js';
import { expectExactlyOnceInOrder } from '../helpers/traffic-checks.js';
import { startClusterTraffic, type ClusterTrafficJob } from './helpers/background.js';
import { describeOnCluster } from './helpers/gate.js';
import { cancelAllJobs, ctlInCluster, mcaEnv, spawnInCluster, srunCommand } from './helpers/vcluster.js';

// `switchyard ctl migrate` (issue 14): one rank of a running 3-rank job moved from host node1
// (network namespace sy-h1, its own host name) to node2 (sy-h2) while the all-to-all stream
// runs. The job is started by `switchyard run` inside node1's namespaces, as a user on that host
// would; ctl runs on the machine itself (root, as CRIU needs). Needs CRIU 4.2+ besides the
// cluster; CI has both.
const criu = probeCriu();
const criuMissing = criu.problem !== undefined && !process.env.CI;
// Far below the time a move takes (a CRIU save and restore): the peers must hold what they send
// to the moving rank because they were told it is away, not because it came back in time.
const PEER_TIMEOUT_MS = 100;
const LAUNCH_LIMIT_S = 180;

let job: ClusterTrafficJob | undefined;
/** The moved rank is no child of the launcher's process group any more: killed by pid after a failed test. */
let moved: number | undefined;
afterEach(() => {
  job?.kill();
  if (moved !== undefined && alive(moved)) process.kill(moved, 'SIGKILL');
  job = moved = undefined;
});

/** `switchyard run -n 3 traffic.mjs` inside node1's network and UTS namespaces, openib (soft) and tcp loaded. */
function startOnNode1(): Promise<ClusterTrafficJob> {
  const node1 = listHosts().find((h) => h.netnsName === 'sy-h1');
  if (!node1?.uts) throw new Error(`no host name of its own in sy-h1: ${JSON.stringify(listHosts())}`);
  const run = [CLI, 'run', '-n', '3', '--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
  const args = [...run, '--mca', 'bml_peer_timeout', String(PEER_TIMEOUT_MS), 'traffic.mjs'];
  const inNode1 = ['nsenter', `--net=${node1.netns}`, `--uts=${node1.uts}`];
  return startClusterTraffic((stop, ready) =>
    spawn('timeout', ['-s', 'KILL', String(LAUNCH_LIMIT_S), ...inNode1, process.execPath, ...args, stop, ready], {
      cwd: FIXTURES,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
}

type Rank = { rank: number; pid: number; hostname: string; peers: Array<{ rank: number; send: string[] }>; traffic: Traffic[] };
type Traffic = { btl: string; fragmentsSent: number; fragmentsReceived: number };

async function status(jobId: string): Promise<Rank[]> {
  const out = await ctl(['--job', jobId, 'status', '--json']);
  expect(out.code, out.stderr).toBe(0);
  return out.json.ranks;
}

const received = (r: Rank) => r.traffic.reduce((n, t) => n + t.fragmentsReceived, 0);

/** Waits until rank 2 has received more than it had in `since`. */
async function trafficGrows(jobId: string, since: Rank[]): Promise<void> {
  for (let s = since; received(s[2]!) <= received(since[2]!); s = await status(jobId)) await new Promise((r) => setTimeout(r, 200));
}
const carriers = (r: Rank) => r.peers.map((p) => p.send.map((s) => s.split(':')[0]).join('+'));

describeOnCluster('moving one rank of a running job to another host', () => {
  it.skipIf(criuMissing)('rank 2 moves to node2 and back under traffic; status shows where it is; messages once, in order', async () => {
    expect(criu.problem).toBeUndefined();
    job = await startOnNode1();
    const before = await status(job.jobId);
    expect(before.map((r) => r.hostname)).toEqual(['node1', 'node1', 'node1']);

    const out = await ctl(['--job', job.jobId, 'migrate', '--ranks', '2', '--to', 'node2', '--json'], 120_000);
    moved = before[2]!.pid;
    expect(out.code, `${out.stderr}${out.stdout}`).toBe(0);
    // Each step says what it does, as it starts.
    expect(out.stderr).toMatch(/migrate away: rank 2's links drain and close[^]*saving rank 2[^]*restoring rank 2 on node2[^]*migrate back/);
    expect(out.json).toMatchObject({ ok: true, rank: 2, pid: before[2]!.pid, from: 'node1', to: 'node2' });
    const away = out.json.steps.filter((s: { step: string }) => ['dump', 'restore'].includes(s.step));
    expect(away.reduce((n: number, s: { ms: number }) => n + s.ms, 0)).toBeGreaterThan(PEER_TIMEOUT_MS);

    // CRIU restored the same pid; it runs on node2 now, and reaches node1's ranks over tcp
    // (openib's soft provider stays within a host: it carries 0-1 only).
    const after = await status(job.jobId);
    expect(after.map((r) => [r.pid, r.hostname])).toEqual([
      [before[0]!.pid, 'node1'],
      [before[1]!.pid, 'node1'],
      [before[2]!.pid, 'node2'],
    ]);
    expect(after.map(carriers)).toEqual([
      ['self', 'openib', 'tcp'],
      ['openib', 'self', 'tcp'],
      ['tcp', 'tcp', 'self'],
    ]);
    // Traffic goes on with the moved rank.
    await trafficGrows(job.jobId, after);

    // And back, the host named by its network namespace this time: openib carries rank 2's
    // traffic again (the fast transport comes back where it reaches), its output still follows.
    const home = await ctl(['--job', job.jobId, 'migrate', '--ranks', '2', '--to', 'sy-h1', '--json'], 120_000);
    expect(home.code, `${home.stderr}${home.stdout}`).toBe(0);
    expect(home.json).toMatchObject({ ok: true, rank: 2, pid: before[2]!.pid, from: 'node2', to: 'node1' });
    const back = await status(job.jobId);
    expect(back.map((r) => [r.pid, r.hostname])).toEqual(before.map((r) => [r.pid, 'node1']));
    expect(back.map(carriers)).toEqual([
      ['self', 'openib', 'openib'],
      ['openib', 'self', 'openib'],
      ['openib', 'openib', 'self'],
    ]);
    await trafficGrows(job.jobId, back);

    const end = await job.stop(90_000);
    expect(end.code, `${end.stderr}\n${end.stdout}`).toBe(0);
    // Rank 2's report came through the launcher after the move (its output followed it).
    expectExactlyOnceInOrder(end.stdout, 3);
    expect(end.stderr).not.toMatch(/cannot be reached any more|PeerLost/);
  }, 240_000);

  it.skipIf(criuMissing)('the ctl moving a rank killed halfway: the job ends, naming the rank and why; nothing of it is left', async () => {
    const started = Date.now();
    try {
      await moverKilledHalfway();
    } finally {
      // What the killed mover's CRIU wrote (its images, its log folder) was its to remove.
      const uid = process.getuid?.() ?? 0;
      for (const dir of [tmpdir(), join(tmpdir(), `switchyard-${uid}`)]) {
        for (const name of readdirSync(dir).filter((n) => n.startsWith('sy-migrate-2-') || n.startsWith('criu-dump-'))) {
          const path = join(dir, name);
          if (statSync(path).mtimeMs >= started) rmSync(path, { recursive: true, force: true });
        }
      }
    }
  }, 180_000);

  async function moverKilledHalfway() {
    job = await startOnNode1();
    const before = await status(job.jobId);
    moved = before[2]!.pid;
    const mover = spawn(process.execPath, [CLI, 'ctl', '--job', job.jobId, 'migrate', '--ranks', '2', '--to', 'node2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    await new Promise<void>((resolve) =>
      mover.stderr.on('data', (d: Buffer) => {
        said += d;
        if (said.includes('saving rank 2')) resolve();
      }),
    );
    mover.kill('SIGKILL');
    // Nobody will restore it: the launcher ends the job at once, not at its time limit.
    const end = await job.stop(60_000);
    expect(end.code, end.stderr).toBe(1);
    expect(end.stderr).toContain(
      `rank 2 (pid ${moved}) was lost while being moved to another host: the switchyard ctl migrate moving it ended before the rank was`,
    );
    for (let i = 0; i < 50 && alive(moved); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(moved)).toBe(false);
  }

  it.skipIf(criuMissing)('refuses an unknown host, a rank reading stdin, a rank out of range, saying why; nothing changes', async () => {
    job = await startOnNode1();
    const before = await status(job.jobId);
    const refusals: Array<[string[], string, RegExp]> = [
      [['--ranks', '2', '--to', 'node9'], 'ERR_SWITCHYARD_MIGRATE_HOST', /no host 'node9' to move to \(hosts here: (\S+, )*node1 \(network namespace sy-h1\), node2/],
      [['--ranks', '1', '--to', 'sy-h1'], 'ERR_SWITCHYARD_MIGRATE_HOST', /rank 1 already runs on sy-h1/],
    ];
    for (const [args, code, message] of refusals) {
      const out = await ctl(['--job', job.jobId, 'migrate', ...args, '--json']);
      expect(out.code, out.stderr).toBe(1);
      expect(out.json).toMatchObject({ ok: false, outcome: 'refused', code });
      expect(out.stderr).toMatch(message);
    }
    // Refused by the launcher after migrate away closed its links: they come back.
    const stdin = await ctl(['--job', job.jobId, 'migrate', '--ranks', '0', '--to', 'node2', '--json']);
    expect(stdin.code, stdin.stderr).toBe(1);
    expect(stdin.json).toMatchObject({ ok: false, code: 'ERR_SWITCHYARD_MIGRATE_RANK' });
    expect(stdin.stderr).toMatch(/rank 0 reads the launcher's stdin, which cannot follow it to another host/);
    // A job of the machine's own namespace: a rank moved out of it could not reach its peers.
    const plain = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self']);
    try {
      const out = await ctl(['--job', plain.jobId, 'migrate', '--ranks', '1', '--to', 'node2', '--json']);
      expect(out.code, out.stderr).toBe(1);
      expect(out.json).toMatchObject({ ok: false, outcome: 'refused', code: 'ERR_SWITCHYARD_MIGRATE_HOST' });
      expect(out.stderr).toMatch(/rank 1 runs in this machine's own network namespace, not on a host of \/run\/netns/);
      expect((await plain.stop()).code).toBe(0);
    } finally {
      plain.kill();
    }
    // A usage error changes nothing either (exit 2), a rank the job does not have too, as for every verb.
    expect((await ctl(['--job', job.jobId, 'migrate', '--ranks', '1,2', '--to', 'node2'])).code).toBe(2);
    const outOfRange = await ctl(['--job', job.jobId, 'migrate', '--ranks', '3', '--to', 'node2', '--json']);
    expect(outOfRange.code, outOfRange.stderr).toBe(2);
    expect(outOfRange.json).toMatchObject({ ok: false, outcome: 'usage', code: 'ERR_CTL_USAGE' });
    expect(outOfRange.stderr).toMatch(/rank 3 in rank list '3' does not exist: the job has ranks 0-2/);
    const after = await status(job.jobId);
    expect(after.map((r) => [r.pid, r.hostname, carriers(r)])).toEqual(before.map((r) => [r.pid, r.hostname, carriers(r)]));
    const end = await job.stop(90_000);
    expect(end.code, end.stderr).toBe(0);
    expectExactlyOnceInOrder(end.stdout, 3);
  }, 180_000);

  it('refuses a rank of a job started by srun: its launcher is no process of ours that could follow the rank', async () => {
    const state = mkdtempSync(join(tmpdir(), 'sy-cluster-state-'));
    const env = { ...mcaEnv({ btl: 'tcp,self' }), XDG_STATE_HOME: state };
    try {
      job = await startClusterTraffic((stop, ready) =>
        spawnInCluster(srunCommand(['traffic.mjs', stop, ready]), { env, timeoutS: LAUNCH_LIMIT_S }),
      );
      const out = await ctlInCluster(['--job', job.jobId, 'migrate', '--ranks', '2', '--to', 'node1'], env);
      expect(out.code, out.out).toBe(1);
      expect(out.json).toMatchObject({ ok: false, outcome: 'refused', code: 'ERR_SWITCHYARD_CHECKPOINT_JOB' });
      expect(out.out).toMatch(/started by mpirun or srun: migrate moves a rank of a job started by 'switchyard run'/);
      const end = await job.stop(90_000);
      expect(end.code, end.stderr).toBe(0);
      expectExactlyOnceInOrder(end.stdout, 4);
    } finally {
      if (job) cancelAllJobs();
      rmSync(state, { recursive: true, force: true });
    }
  }, 180_000);
});

afterAll(() => cancelAllJobs());
