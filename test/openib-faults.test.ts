import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { CLI } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// The soft verbs device of one rank faulted from outside the job, as an operator resetting an
// HCA or pulling its cable would (`switchyard verbs reset|fail|restore --pid`), while every rank
// exchanges numbered, checksummed messages over openib: traffic fails over to tcp, nothing is
// lost, doubled or reordered, and `ctl unload openib` / `ctl load openib` bring openib back, or
// the job itself after `bml_recovery_interval`.
const OPENIB_PREFERRED = ['-n', '3', '--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
/** Recovery by hand only: the tests below steer every step themselves. */
const BY_HAND = [...OPENIB_PREFERRED, '--mca', 'bml_recovery_interval', '0'];

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

/** `switchyard verbs ARGS --json` as an operator runs it; its exit code and JSON. */
function verbs(...args: string[]): { code: number | null; json: any; stderr: string } {
  const out = spawnSync(process.execPath, [CLI, 'verbs', ...args, '--json'], { encoding: 'utf8', timeout: 30_000 });
  return { code: out.status, json: out.stdout ? JSON.parse(out.stdout) : undefined, stderr: out.stderr };
}

async function rankPid(jobId: string, rank: number): Promise<number> {
  return (await verb(jobId, 'status')).ranks[rank].pid;
}

/** Per rank, per peer: what carries the traffic when `faulted`'s openib links are out (none: all up). */
function lists(faulted?: number, instead = 'tcp'): string[][] {
  return [0, 1, 2].map((r) => [0, 1, 2].map((p) => (p === r ? 'self' : r === faulted || p === faulted ? instead : 'openib')));
}
const ON_OPENIB = lists();

/**
 * The send lists once they are `expected`: the faulted rank's links leave them as each side
 * notices (its own module at once; a peer when its next send runs out of retries).
 */
async function listsBecome(jobId: string, expected: string[][]): Promise<string[][]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const now = await sendLists(jobId);
    if (JSON.stringify(now) === JSON.stringify(expected) || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("one rank's soft verbs device faulted from outside while openib carries the traffic", () => {
  it('reset: the job goes on over tcp; unload and load bring openib back at new GIDs; every message once, in order', async () => {
    job = await startTrafficJob(BY_HAND);
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);
    const pid = await rankPid(job.jobId, 1);
    const before = verbs('list', '--pid', String(pid)).json[0].devices[0].gid;

    const reset = verbs('reset', '--pid', String(pid));
    expect(reset.code, reset.stderr).toBe(0);
    expect(await listsBecome(job.jobId, lists(1))).toEqual(lists(1));

    expect(await verb(job.jobId, 'unload', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await verb(job.jobId, 'load', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);
    expect(verbs('list', '--pid', String(pid)).json[0].devices[0].gid).not.toBe(before);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('reset: ctl load openib (the whole job) and ctl reset reload it at once where it failed; every message once, in order', async () => {
    job = await startTrafficJob(BY_HAND);
    expect(verbs('reset', '--pid', String(await rankPid(job.jobId, 1))).code).toBe(0);
    expect(await listsBecome(job.jobId, lists(1))).toEqual(lists(1));
    // Rank 1 loads openib anew; the others connect to it with new queue pairs (not those of its dead module).
    expect(await verb(job.jobId, 'load', 'openib')).toMatchObject({
      ok: true,
      outcome: 'done',
      changes: expect.arrayContaining([{ rank: 1, changes: ['finalized failed openib', 'loaded openib (openib:soft0:1)'] }]),
    });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);

    expect(verbs('reset', '--pid', String(await rankPid(job.jobId, 2))).code).toBe(0);
    expect(await listsBecome(job.jobId, lists(2))).toEqual(lists(2));
    expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);
    expect((await verb(job.jobId, 'status')).ranks.flatMap((r: any) => r.failures ?? [])).toEqual([]);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('fail: the job goes on over tcp; load is refused while the port is down and works after restore', async () => {
    job = await startTrafficJob(BY_HAND);
    const pid = await rankPid(job.jobId, 2);
    expect(verbs('fail', '--pid', String(pid)).json.devices[0]).toMatchObject({ state: 'DOWN' });
    expect(await listsBecome(job.jobId, lists(2))).toEqual(lists(2));

    expect(await verb(job.jobId, 'unload', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    const refused = await ctl(['--job', job.jobId, 'load', 'openib']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/rank 2: .*no active RDMA port \(found soft0:1 DOWN\)/);

    expect(verbs('restore', '--pid', String(pid)).json.devices[0]).toMatchObject({ state: 'ACTIVE' });
    expect(await verb(job.jobId, 'load', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it(
    'comes back by itself: the rank probes after the recovery interval, waits while the port is ' +
      'down, and reloads openib once it is up',
    async () => {
      job = await startTrafficJob([...OPENIB_PREFERRED, '--mca', 'bml_recovery_interval', '500']);
      const pid = await rankPid(job.jobId, 1);
      expect(verbs('fail', '--pid', String(pid)).json.devices[0]).toMatchObject({ state: 'DOWN' });
      expect(await listsBecome(job.jobId, lists(1))).toEqual(lists(1));
      const failed = (await verb(job.jobId, 'status')).ranks[1].failures;
      expect(failed).toEqual([
        expect.objectContaining({ module: 'openib:soft0:1', severity: 'fatal', error: expect.stringMatching(/soft0.*DOWN|port/i) }),
      ]);
      // Several intervals with the port down: the probe says no, nothing is reloaded.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await sendLists(job.jobId)).toEqual(lists(1));
      expect(verbs('restore', '--pid', String(pid)).json.devices[0]).toMatchObject({ state: 'ACTIVE' });
      expect(await listsBecome(job.jobId, ON_OPENIB)).toEqual(ON_OPENIB);
      expect((await verb(job.jobId, 'status')).ranks.flatMap((r: any) => r.failures ?? [])).toEqual([]);

      const out = await job.stop();
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toMatch(/btl openib failed on rank 1 and is back/);
      expectExactlyOnceInOrder(out.stdout, 3);
    }, 120_000);
});

describe("one rank's openib reloaded by the job itself, then checkpoint prepare (sm and openib to unload)", () => {
  it('prepare unloads in the same order on every rank, though the reload put openib last on that rank', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'sm,openib,tcp,self', '--mca', 'btl_openib_provider', 'soft',
      '--mca', 'bml_recovery_interval', '500']);
    const names = async () => (await verb(job!.jobId, 'status')).ranks.map((r: any) => r.components.map((c: any) => c.name));
    const before = await names();
    expect(verbs('reset', '--pid', String(await rankPid(job.jobId, 1))).code).toBe(0);
    const deadline = Date.now() + 20_000;
    let after = before;
    while (Date.now() < deadline) {
      const status = await verb(job.jobId, 'status');
      after = await names();
      if (after[1].at(-1) === 'openib' && status.ranks.every((r: any) => !r.failures?.length)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Reloaded by the job: last in rank 1's load order only.
    expect(after[1].at(-1)).toBe('openib');
    expect(after[0]).toEqual(before[0]);
    expect(after[0].at(-1)).not.toBe('openib');

    const prepare = await ctl(['--job', job.jobId, 'checkpoint', 'prepare', '--timeout', '15000', '--json']);
    expect(prepare.json, prepare.stderr).toMatchObject({ outcome: 'done' });
    expect((await names()).map((c: string[]) => [...c].sort())).toEqual([['self', 'tcp'], ['self', 'tcp'], ['self', 'tcp']]);
    expect(await verb(job.jobId, 'checkpoint', 'continue')).toMatchObject({ outcome: 'done' });

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/btl openib failed on rank 1 and is back/);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);
});

describe("one rank's soft verbs device reset while openib is idle (traffic on tcp)", () => {
  it('status shows it failed on that rank and on its peers; unload finishes, load works, reset moves traffic back; every message once, ' +
    'in order', async () => {
    job = await startTrafficJob(BY_HAND);
    expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ ok: true, outcome: 'done' });
    const pid = await rankPid(job.jobId, 0);
    expect(verbs('reset', '--pid', String(pid)).code).toBe(0);
    // The faulted rank knows at once; its peers are told over tcp.
    const deadline = Date.now() + 10_000;
    let failures: any[][];
    do {
      failures = (await verb(job.jobId, 'status')).ranks.map((r: any) => r.failures ?? []);
      if (failures.every((f) => f.length)) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(failures[0]).toEqual([expect.objectContaining({ severity: 'fatal' })]);
    for (const peer of [1, 2]) expect(failures[peer]).toEqual([expect.objectContaining({ peer: 0, severity: 'peer' })]);

    expect(await verb(job.jobId, 'unload', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await verb(job.jobId, 'load', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);
});

describe("after 'ctl switch openib' (sm and tcp loaded and idle), one rank's soft verbs device reset", () => {
  it('its traffic falls back to sm, status says so, unload and load of openib give it back to openib; every message once, ' +
    'in order', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'sm,openib,tcp,self', '--mca', 'btl_openib_provider', 'soft',
      '--mca', 'bml_recovery_interval', '0']);
    expect(await verb(job.jobId, 'switch', 'openib')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);

    expect(verbs('reset', '--pid', String(await rankPid(job.jobId, 1))).code).toBe(0);
    // A fault outranks the switch's choice: sm (the best of what is left) carries rank 1's traffic.
    const fallback = lists(1, 'sm');
    expect(await listsBecome(job.jobId, fallback)).toEqual(fallback);
    const status = await ctl(['--job', job.jobId, 'status']);
    expect(status.stdout).toMatch(/send sm,[^\n]*fallback: the transports switched to failed/);
    // Still running well after the peer timeout (10 s) would have ended it.
    await new Promise((r) => setTimeout(r, 11_000));
    expect(await sendLists(job.jobId)).toEqual(fallback);

    // Rank 1's failed openib can be unloaded (its traffic has sm), and loading it gives the traffic back to the switch's choice.
    expect(await verb(job.jobId, 'unload', 'openib', '--ranks', '1')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(fallback);
    expect(await verb(job.jobId, 'load', 'openib', '--ranks', '1')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual(ON_OPENIB);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);
});

describe('a job whose only transport between ranks is openib, one rank\'s soft verbs device faulted', () => {
  const ONLY_OPENIB = ['-n', '2', '--mca', 'btl', 'openib,self', '--mca', 'btl_openib_provider', 'soft'];

  it('reset: the job waits for it (no link left) and reloads openib by itself well within the peer timeout; every message once, ' +
    'in order', async () => {
    job = await startTrafficJob(ONLY_OPENIB);
    expect(verbs('reset', '--pid', String(await rankPid(job.jobId, 1))).code).toBe(0);
    // Still running after the peer timeout (10 s), with openib back on both ranks.
    await new Promise((r) => setTimeout(r, 11_000));
    expect((await verb(job.jobId, 'status')).ranks.flatMap((r: any) => r.failures ?? [])).toEqual([]);
    expect(await sendLists(job.jobId)).toEqual([['self', 'openib'], ['openib', 'self']]);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/btl openib failed on rank 1 and is back: reloaded there/);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 120_000);

  it('fail, and no restore: after the peer timeout the job ends naming the peer and the cause', async () => {
    job = await startTrafficJob([...ONLY_OPENIB, '--mca', 'bml_peer_timeout', '3000']);
    expect(verbs('fail', '--pid', String(await rankPid(job.jobId, 1))).code).toBe(0);
    const deadline = Date.now() + 30_000;
    const running = () => job!.child.exitCode === null && job!.child.signalCode === null;
    while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(job.child.exitCode, 'the job ended by itself').not.toBe(null);
    const out = await job.stop();
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/rank [01] cannot be reached any more \(openib:soft0:1: .*\)/);
  }, 120_000);
});
