import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { results } from '../helpers/run-job.js';
import { startClusterTraffic, type ClusterTrafficJob } from './helpers/background.js';
import { describeOnCluster } from './helpers/gate.js';
import { cancelAllJobs, ctlInCluster, mcaEnv, mpirunCommand, spawnInCluster, srunCommand } from './helpers/vcluster.js';

// Transports switched while a job spread over two hosts streams numbered, checksummed messages
// (traffic.mjs). openib's soft provider reaches only the ranks of its own host, so each host's
// pair talks over openib and every pair across hosts over tcp: ranks 0-1 on node1, 2-3 on node2.
// `switchyard ctl` runs in the login namespace (sy-h1) and finds the job by the record its
// controller (rank 0) wrote under $XDG_STATE_HOME.
const state = mkdtempSync(join(tmpdir(), 'sy-cluster-state-'));
const ENV = { ...mcaEnv({ btl: 'openib,tcp,self', btl_openib_provider: 'soft' }), XDG_STATE_HOME: state };
const LAUNCH_LIMIT_S = 150;

let job: ClusterTrafficJob | undefined;
afterEach(() => {
  if (job) {
    job.kill();
    cancelAllJobs();
  }
  job = undefined;
});
afterAll(() => rmSync(state, { recursive: true, force: true }));

type Traffic = { rank: number; iterations: number; received: number[]; errors: number };

function expectExactlyOnceInOrder(stdout: string, size: number) {
  const r = results<Traffic>(stdout).sort((a, b) => a.rank - b.rank);
  expect(r.map((x) => x.rank)).toEqual(Array.from({ length: size }, (_, i) => i));
  for (const x of r) {
    expect(x.errors).toBe(0);
    expect(x.iterations).toBeGreaterThan(0);
    expect(x.received).toEqual(Array.from({ length: size }, (_, peer) => (peer === x.rank ? 0 : x.iterations)));
  }
}

async function verb(jobId: string, ...args: string[]) {
  const out = await ctlInCluster(['--job', jobId, ...args], ENV);
  if (out.code !== 0) throw new Error(`ctl ${args.join(' ')} failed (${out.code}): ${out.out}`);
  return out.json;
}

/** Per rank, per peer: the BTL components its send list holds, e.g. 'tcp' or 'openib'. */
async function sendLists(jobId: string): Promise<string[][]> {
  const status = await verb(jobId, 'status');
  return status.ranks.map((r: any) => r.peers.map((p: any) => p.send.map((s: string) => s.split(':')[0]).join('+')));
}

const HOST_PAIRS_ON_OPENIB = [
  ['self', 'openib', 'tcp', 'tcp'],
  ['openib', 'self', 'tcp', 'tcp'],
  ['tcp', 'tcp', 'self', 'openib'],
  ['tcp', 'tcp', 'openib', 'self'],
];
const ALL_TCP = [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((p) => (p === r ? 'self' : 'tcp')));

const LAUNCHERS = [
  [
    'srun --mpi=pmix',
    (stop: string, ready: string) => spawnInCluster(srunCommand(['traffic.mjs', stop, ready]), { env: ENV, timeoutS: LAUNCH_LIMIT_S }),
  ],
  [
    'mpirun (salloc)',
    (stop: string, ready: string) =>
      spawnInCluster(mpirunCommand(['traffic.mjs', stop, ready], 4, ENV), { env: ENV, timeoutS: LAUNCH_LIMIT_S }),
  ],
] as const;

describeOnCluster('switching transports while a job spans two hosts', () => {
  for (const [name, launcher] of LAUNCHERS) {
    it(`${name}: switch, unload, load, checkpoint prepare/continue under traffic; every message once, in order`, async () => {
      job = await startClusterTraffic(launcher);
      expect(await sendLists(job.jobId)).toEqual(HOST_PAIRS_ON_OPENIB);
      const steps: Array<[string[], string[][]]> = [
        [['switch', 'tcp'], ALL_TCP],
        [['reset'], HOST_PAIRS_ON_OPENIB],
        [['unload', 'openib'], ALL_TCP],
        [['load', 'openib'], HOST_PAIRS_ON_OPENIB],
        [['checkpoint', 'prepare'], ALL_TCP],
        [['checkpoint', 'continue'], HOST_PAIRS_ON_OPENIB],
      ];
      for (const [args, lists] of steps) {
        expect(await verb(job.jobId, ...args), args.join(' ')).toMatchObject({ ok: true, outcome: 'done' });
        expect(await sendLists(job.jobId), args.join(' ')).toEqual(lists);
      }
      // Traffic between the hosts went over tcp on every rank.
      const status = await verb(job.jobId, 'status');
      for (const r of status.ranks) expect(r.traffic.find((t: any) => t.btl === 'tcp')?.bytesSent, `rank ${r.rank}`).toBeGreaterThan(0);
      const out = await job.stop(60_000);
      expect(out.code, `${out.stderr}\n${out.stdout}`).toBe(0);
      expectExactlyOnceInOrder(out.stdout, 4);
    }, 180_000);
  }

  it('srun --mpi=pmix: --ranks naming the ranks of one host moves only their links', async () => {
    job = await startClusterTraffic(LAUNCHERS[0][1]);
    // Reached by address and secret file too, as from a machine that does not share the state folder.
    const recordPath = join(state, 'switchyard', 'jobs', `${job.jobId}.json`);
    const record = JSON.parse(readFileSync(recordPath, 'utf8'));
    expect(record.controller).toMatch(/^10\.77\.0\.1:\d+$/);
    const direct = await ctlInCluster(['--controller', record.controller, '--secret-file', recordPath, 'status'], {});
    expect(direct.code, direct.out).toBe(0);
    expect(direct.json.ranks.map((r: any) => r.hostname)).toEqual(['node1', 'node1', 'node2', 'node2']);
    await verb(job.jobId, 'switch', 'tcp', '--ranks', '0,1');
    // node1's pair left openib; node2's pair did not move.
    expect(await sendLists(job.jobId)).toEqual([
      ['self', 'tcp', 'tcp', 'tcp'],
      ['tcp', 'self', 'tcp', 'tcp'],
      ['tcp', 'tcp', 'self', 'openib'],
      ['tcp', 'tcp', 'openib', 'self'],
    ]);
    await verb(job.jobId, 'unload', 'openib', '--ranks', '0,1');
    const status = await verb(job.jobId, 'status');
    const components = status.ranks.map((r: any) => r.components.map((c: any) => c.name).sort().join(','));
    expect(components).toEqual(['self,tcp', 'self,tcp', 'openib,self,tcp', 'openib,self,tcp']);
    await verb(job.jobId, 'load', 'openib', '--ranks', '0,1');
    await verb(job.jobId, 'reset', '--ranks', '0,1');
    expect(await sendLists(job.jobId)).toEqual(HOST_PAIRS_ON_OPENIB);
    const out = await job.stop(60_000);
    expect(out.code, `${out.stderr}\n${out.stdout}`).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 4);
  }, 180_000);
});
