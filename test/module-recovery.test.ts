import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, useJobScratch } from './helpers/ctl.js';
import { FIXTURES } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, verb } from './helpers/traffic-checks.js';

// A transport whose device fails on every rank at once (a shared device reset: the fixture BTL
// test/fixtures/btl-nodev, whose device is a file removed from outside) comes back by itself:
// each rank probes its component every bml_recovery_interval, and once the device is back the
// coordinator reloads it on every rank that asked, in one verb. Traffic runs on tcp throughout.
const scratch = useJobScratch();

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function failures(jobId: string): Promise<any[][]> {
  return (await verb(jobId, 'status')).ranks.map((r: any) => r.failures ?? []);
}

describe('automatic recovery of a failed transport', () => {
  it('waits while the device is gone, reloads it on every rank once it is back; every message once, in order', async () => {
    scratch.dir = mkdtempSync(join(tmpdir(), 'sy-nodev-'));
    const device = join(scratch.dir, 'dev0');
    writeFileSync(device, '');
    scratch.job = await startTrafficJob([
      '-n', '3',
      '--mca', 'btl', 'tcp,self,nodev',
      '--mca', 'mca_component_path', join(FIXTURES, 'btl-nodev'),
      '--mca', 'btl_nodev_reach', 'all',
      '--mca', 'btl_nodev_device', device,
      '--mca', 'bml_recovery_interval', '300',
    ]);
    rmSync(device);
    const deadline = Date.now() + 20_000;
    while ((await failures(scratch.job.jobId)).some((f) => !f.length) && Date.now() < deadline) await pause(100);
    expect((await failures(scratch.job.jobId)).map((f) => f.map((x) => x.severity))).toEqual([['fatal'], ['fatal'], ['fatal']]);
    // Several intervals without the device: each probe says no, nothing is reloaded.
    await pause(1_500);
    expect((await failures(scratch.job.jobId)).every((f) => f.length === 1)).toBe(true);
    // An operator's load meanwhile is refused and changes nothing: the failed modules stay, and
    // so does their recovery (a load that finalized them first left nothing to recover).
    const early = await ctl(['--job', scratch.job.jobId, 'load', 'nodev', '--json']);
    expect(early.code, early.stderr).toBe(1);
    expect(early.json).toMatchObject({ ok: false, outcome: 'refused' });
    expect(early.stderr).toMatch(/btl 'nodev' failed and cannot be loaded again yet: .*; nothing changed/);
    expect((await failures(scratch.job.jobId)).every((f) => f.length === 1)).toBe(true);

    writeFileSync(device, '');
    while ((await failures(scratch.job.jobId)).some((f) => f.length) && Date.now() < deadline + 20_000) await pause(100);
    const status = await verb(scratch.job.jobId, 'status');
    expect(status.ranks.map((r: any) => r.failures ?? [])).toEqual([[], [], []]);
    for (const r of status.ranks) expect(r.components.map((c: any) => c.name)).toContain('nodev');

    const out = await scratch.job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/btl nodev failed on ranks? [\d,]+ and is back: reloaded there/);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);
});
