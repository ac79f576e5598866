import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, useJobScratch } from './helpers/ctl.js';
import { FIXTURES, runJob } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// Verbs that fail part-way, with real ranks, the real launcher and the real ctl. The transport
// that fails is a fixture BTL found through mca_component_path (test/fixtures/btl-nodev): its
// device is missing on one node, or a file standing in for the device is removed from outside
// while the scratch.job runs (a device reset). Traffic runs on tcp throughout and is checked at the end.
// The tests steer every step by hand: the job's own recovery of a failed transport stays off.
const NODEV = ['--mca', 'mca_component_path', join(FIXTURES, 'btl-nodev'), '--mca', 'bml_recovery_interval', '0'];

const scratch = useJobScratch();

/** Two ranks with `btl`; nodev reaches every peer and loses what is sent on it (a drain it is in never ends). */
function twoRanksNodevLosingAll(btl: string): string[] {
  return ['-n', '2', '--mca', 'btl', btl, ...NODEV, '--mca', 'btl_nodev_reach', 'all', '--mca', 'mpi_finalize_drain_timeout', '1000'];
}

/** Per rank: loaded components, sorted, and runtime parameters. */
async function shape(jobId: string) {
  const status = await verb(jobId, 'status');
  return status.ranks.map((r: any) => ({ components: r.components.map((c: any) => c.name).sort(), params: r.runtimeParams }));
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a transport that fails at start-up', () => {
  it('is left out of the job on the rank it failed on, which says so on stderr; the job runs on the others', async () => {
    const out = await runJob(
      ['-n', '2', '--mca', 'btl', '^openib', ...NODEV, '--mca', 'btl_nodev_fail_rank', '1', '--mca', 'btl_nodev_fail_in', 'init']
        .concat('collectives.mjs'),
      { timeoutMs: 60_000 },
    );
    expect(out.code, out.stderr).toBe(0);
    const warnings = out.stderr.split('\n').filter((l) => l.includes('is left out'));
    expect(warnings).toEqual([
      "switchyard: warning: rank 1: btl component 'nodev' is left out: init failed: no nodev device on the node of rank 1",
    ]);
  }, 90_000);
});

describe('verbs that fail part-way are rolled back', () => {
  it('rolls back on the other ranks a load and an apply whose commit fails on one rank; status stays consistent', async () => {
    scratch.job = await startTrafficJob([
      '-n',
      '3',
      '--mca',
      'btl',
      'tcp,self',
      ...NODEV,
      '--mca',
      'btl_nodev_fail_rank',
      '2',
      '--mca',
      'btl_nodev_fail_in',
      'add_procs',
    ]);
    const before = await shape(scratch.job.jobId);

    const load = await ctl(['--job', scratch.job.jobId, 'load', 'nodev', '--json']);
    expect(load.code).toBe(1);
    expect(load.json).toMatchObject({ outcome: 'failed', errors: [{ rank: 2, code: 'ERR_CTL_COMMIT_FAILED' }] });
    expect(load.json.errors[0].message).toMatch(/no nodev device on the node of rank 2/);
    // Ranks 0 and 1 had loaded it: they unloaded it again.
    expect(load.json.changes.map((c: any) => c.rank)).toEqual([0, 1]);
    expect(load.json.ranks).toEqual([
      { rank: 0, state: 'rolled-back', applied: [] },
      { rank: 1, state: 'rolled-back', applied: [] },
      { rank: 2, state: 'unchanged', applied: [] },
    ]);
    expect(await shape(scratch.job.jobId)).toEqual(before);

    // Several steps: the parameters were set on every rank before the load failed; all undone.
    const apply = await ctl([
      '--job',
      scratch.job.jobId,
      'apply',
      '--mca',
      'btl',
      'tcp,self,nodev',
      '--mca',
      'btl_tcp_exclusivity',
      '2000',
      '--json',
    ]);
    expect(apply.json).toMatchObject({ outcome: 'failed', errors: [{ rank: 2, code: 'ERR_CTL_COMMIT_FAILED' }] });
    expect(apply.json.ranks.map((r: any) => r.state)).toEqual(['rolled-back', 'rolled-back', 'rolled-back']);
    expect(await shape(scratch.job.jobId)).toEqual(before);
    const status = await ctl(['--job', scratch.job.jobId, 'status']);
    expect(status.stdout).toMatch(/last verb failed: apply --mca btl tcp,self,nodev --mca btl_tcp_exclusivity 2000\n {4}ranks 0-2: rolled-back\n/);

    // The scratch.job goes on as before: the next verb is done.
    expect(await verb(scratch.job.jobId, 'switch', 'tcp')).toMatchObject({ outcome: 'done' });
    expect(await sendLists(scratch.job.jobId)).toEqual([
      ['self', 'tcp', 'tcp'],
      ['tcp', 'self', 'tcp'],
      ['tcp', 'tcp', 'self'],
    ]);
    const out = await scratch.job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('fails an unload whose drain cannot finish within --timeout, leaves the scratch.job consistent; a broken transport is unloaded and ' +
    'loaded again', async () => {
    scratch.dir = mkdtempSync(join(tmpdir(), 'sy-nodev-'));
    const device = join(scratch.dir, 'nodev0');
    writeFileSync(device, '');
    scratch.job = await startTrafficJob([
      '-n',
      '3',
      '--mca',
      'btl',
      'tcp,self,nodev',
      ...NODEV,
      '--mca',
      'btl_nodev_reach',
      'all',
      '--mca',
      'btl_nodev_device',
      device,
      '--mca',
      'mpi_finalize_drain_timeout',
      '2000',
    ]);
    const before = await shape(scratch.job.jobId);
    expect(before[0].components).toEqual(['nodev', 'self', 'tcp']);

    // nodev loses its drain markers: the drain cannot finish, the verb fails within its timeout.
    const started = Date.now();
    const stuck = await ctl(['--job', scratch.job.jobId, 'unload', 'nodev', '--timeout', '3000', '--json']);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(stuck.json).toMatchObject({ outcome: 'failed' });
    expect(stuck.json.errors.map((e: any) => e.code)).toEqual(['ERR_CTL_DRAIN_TIMEOUT', 'ERR_CTL_DRAIN_TIMEOUT', 'ERR_CTL_DRAIN_TIMEOUT']);
    expect(stuck.json.errors[0].message).toMatch(
      /^rank \d: drain timed out after \d+ ms; still waiting on nodev:dev0->\d \(no drain marker from rank \d yet\), nodev:dev0->\d \(no drain/,
    );
    expect(stuck.json.ranks.map((r: any) => r.state)).toEqual(['rolled-back', 'rolled-back', 'rolled-back']);
    expect(await shape(scratch.job.jobId)).toEqual(before);
    expect((await sendLists(scratch.job.jobId))[0]).toEqual(['self', 'tcp', 'tcp']);

    // A device reset: every rank's module reports it; status says which module, why and when.
    rmSync(device);
    await waitFor('the failure in ctl status', async () =>
      (await verb(scratch.job!.jobId, 'status')).ranks.every((r: any) => r.failures?.some((f: any) => f.severity === 'fatal')),
    );
    const failed = await verb(scratch.job.jobId, 'status');
    expect(failed.ranks[1].failures[0]).toMatchObject({ module: 'nodev:dev0', severity: 'fatal', error: `device ${device} was removed` });
    expect(Date.parse(failed.ranks[1].failures[0].at)).toBeGreaterThan(started);
    const text = await ctl(['--job', scratch.job.jobId, 'status']);
    expect(text.stdout).toContain(`module nodev:dev0 failed at `);

    // The device is back: load is a reload of the failed module, not "already loaded".
    writeFileSync(device, '');
    const reload = await verb(scratch.job.jobId, 'load', 'nodev');
    expect(reload).toMatchObject({ outcome: 'done' });
    expect(reload.changes[0].changes).toEqual(['finalized failed nodev', 'loaded nodev (nodev:dev0)']);
    expect((await verb(scratch.job.jobId, 'status')).ranks.map((r: any) => r.failures)).toEqual([[], [], []]);
    // Healthy everywhere again: loading it once more is refused.
    const again = await ctl(['--job', scratch.job.jobId, 'load', 'nodev', '--json']);
    expect(again.json).toMatchObject({
      outcome: 'refused',
      errors: [{ code: 'ERR_CTL_ALREADY_LOADED', message: "ranks 0-2: btl 'nodev' is already loaded" }],
    });

    // Broken again: its links owe no drain, so the unload finishes.
    rmSync(device);
    await waitFor('the second failure', async () => (await verb(scratch.job!.jobId, 'status')).ranks.every((r: any) => r.failures?.length));
    expect(await verb(scratch.job.jobId, 'unload', 'nodev', '--timeout', '5000')).toMatchObject({ outcome: 'done' });
    expect((await shape(scratch.job.jobId))[2].components).toEqual(['self', 'tcp']);

    // reset brings the scratch.job back to its configuration: every configured transport loaded.
    writeFileSync(device, '');
    const reset = await verb(scratch.job.jobId, 'reset');
    expect(reset.changes.map((c: any) => c.changes[0])).toEqual([
      'loaded nodev (nodev:dev0)',
      'loaded nodev (nodev:dev0)',
      'loaded nodev (nodev:dev0)',
    ]);
    expect(await shape(scratch.job.jobId)).toEqual(before);

    const out = await scratch.job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('rolls back a checkpoint prepare whose second unload cannot drain: the transport it did unload is loaded again', async () => {
    // Prepare unloads in name order: a copy of nodev named to come after sm, so sm is unloaded
    // first (it drains) and the copy second (its markers are lost: the commit fails there).
    scratch.dir = mkdtempSync(join(tmpdir(), 'sy-zdev-'));
    const zdev = join(scratch.dir, 'btl-zdev');
    mkdirSync(zdev);
    for (const file of ['package.json', 'index.mjs']) {
      writeFileSync(join(zdev, file), readFileSync(join(FIXTURES, 'btl-nodev', file), 'utf8').replaceAll('nodev', 'zdev'));
    }
    scratch.job = await startTrafficJob([
      ...['-n', '2', '--mca', 'btl', 'tcp,self,sm,zdev', '--mca', 'mca_component_path', zdev, '--mca', 'bml_recovery_interval', '0'],
      ...['--mca', 'btl_zdev_reach', 'all', '--mca', 'mpi_finalize_drain_timeout', '1000'],
    ]);
    const before = await shape(scratch.job.jobId);
    expect(before[0].components).toEqual(['self', 'sm', 'tcp', 'zdev']);

    const prepare = await ctl(['--job', scratch.job.jobId, 'checkpoint', 'prepare', '--timeout', '3000', '--json']);
    expect(prepare.json).toMatchObject({ outcome: 'failed' });
    expect(prepare.json.errors.map((e: any) => e.code)).toEqual(['ERR_CTL_DRAIN_TIMEOUT', 'ERR_CTL_DRAIN_TIMEOUT']);
    // Each change once: what a step journaled is not what the verb's later steps add to its list.
    expect(prepare.json.changes.map((c: any) => c.changes)).toEqual([
      ['drained sm->1', 'unloaded sm'],
      ['drained sm->0', 'unloaded sm'],
    ]);
    // Every rank unloaded sm before its commit failed: the rollback loads it back on each.
    expect(prepare.json.ranks.map((r: any) => r.state)).toEqual(['rolled-back', 'rolled-back']);
    expect(await shape(scratch.job.jobId)).toEqual(before);
    expect(await sendLists(scratch.job.jobId)).toEqual([
      ['self', 'sm'],
      ['sm', 'self'],
    ]);

    // sm carries traffic again, and moves off it as any verb asks.
    expect(await verb(scratch.job.jobId, 'switch', 'tcp')).toMatchObject({ outcome: 'done' });
    const out = await scratch.job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 120_000);

  it('finalizes a scratch.job whose idle transport cannot drain with exit 0, saying so on stderr', async () => {
    scratch.job = await startTrafficJob(twoRanksNodevLosingAll('tcp,self,nodev'));
    const out = await scratch.job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/\[rank [01]\] finalize: drain timed out after 1000 ms; still waiting on nodev:none->[01]/);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 60_000);
});
