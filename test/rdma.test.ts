import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSteeredJob, type BackgroundJob } from './helpers/ctl.js';
import { results, runJob } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, verb } from './helpers/traffic-checks.js';
import type { PmlRdmaStats } from '@switchyard/pml';

// The PML's RDMA protocol: large messages pulled straight into the receiver's buffer with the
// BTL's get (sm through CMA, openib soft through RDMA read), and the fragments it falls back to
// when a switch moves the peer's traffic off the transport a message was registered on.
const FAST = [
  ['sm', ['--mca', 'btl', 'sm,tcp,self']],
  ['openib', ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft']],
] as const;

type Report = { rank: number; rdma: PmlRdmaStats };

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

/** traffic.mjs with rendezvous sizes only, on 2 ranks. */
function startLargeTraffic(args: readonly string[]) {
  return startSteeredJob(['-n', '2', ...args], 'traffic.mjs', (dir) => [join(dir, 'stop'), join(dir, 'ready'), 'large'], 60_000);
}

describe.each(FAST)('the RDMA protocol over %s', (fast, args) => {
  it('pulls every large message with get: counters show it, every message once, in order, intact', async () => {
    job = await startLargeTraffic(args);
    const out = await job.stop(120_000);
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
    for (const r of results<Report>(out.stdout)) {
      expect(r.rdma.rgetSent, `${fast}: ${JSON.stringify(r)}`).toBeGreaterThan(0);
      expect(r.rdma.pulled).toBeGreaterThan(0);
      expect(r.rdma.fallbacks).toBe(0);
      // sm's copies are the processes' own (CMA): from btl_sm_split_min (512 KiB, every size here)
      // the sender puts the second half while the receiver gets the first. A NIC copies for openib.
      if (fast === 'sm') expect(r.rdma.put, JSON.stringify(r)).toBeGreaterThan(0);
      else expect(r.rdma.put).toBe(0);
      // traffic.mjs sends from a fresh buffer each time: registrations are made, not reused.
      expect(r.rdma.registrations).toBeGreaterThan(0);
    }
  }, 180_000);
});

describe('a switch while large messages are in flight', () => {
  it('moves them to tcp by fragments and back to sm by get: every message once, in order, intact', async () => {
    job = await startLargeTraffic(['--mca', 'btl', 'sm,tcp,self']);
    for (let i = 0; i < 6; i++) {
      expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ ok: true, outcome: 'done' });
      expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true, outcome: 'done' });
    }
    // The counters are what `ctl status` shows of each rank's PML.
    const status = await verb(job.jobId, 'status');
    for (const r of status.ranks as Array<{ pml: { rdma: PmlRdmaStats } }>) expect(r.pml.rdma.rgetSent).toBeGreaterThan(0);
    const out = await job.stop(120_000);
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
    const reports = results<Report>(out.stdout);
    // Pulled on sm before and between the switches; whether a get was caught mid-switch (a
    // fallback) depends on timing, so only the outcome, not the count, is asserted.
    for (const r of reports) expect(r.rdma.pulled, JSON.stringify(r)).toBeGreaterThan(0);
    console.log(`rdma counters after the switches: ${JSON.stringify(reports)}`);
  }, 240_000);
});

describe('a large sm message from a sender that computes after isend', () => {
  it('is received while the sender computes: the receiver takes back the half the sender does not put', async () => {
    // The sender computes until the receiver has the message (20 s at most): without the
    // take-back the receive waits for the sender's event loop, so the limit ends its computing.
    const dir = mkdtempSync(join(tmpdir(), 'sy-compute-'));
    try {
      const received = join(dir, 'received');
      const out = await runJob(['-n', '2', '--mca', 'btl', 'sm,self', 'compute-sender.mjs', received, '20000'], { timeoutMs: 60_000 });
      expect(out.code, out.stderr).toBe(0);
      const reports = results<{ rank: number; receivedWhileComputing?: boolean; ok?: boolean; rdma?: PmlRdmaStats }>(out.stdout);
      const sender = reports.find((r) => r.rank === 0)!;
      const receiver = reports.find((r) => r.rank === 1)!;
      expect(receiver.ok).toBe(true);
      expect(receiver.rdma).toMatchObject({ pulled: 1, takenBack: 1, fallbacks: 0 });
      expect(sender.receivedWhileComputing).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
