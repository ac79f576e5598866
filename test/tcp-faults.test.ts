import { afterEach, describe, expect, it } from 'vitest';
import { isProcessRunning } from '@switchyard/runtime';
import { startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { resetTcpConnections, tcpResetSkipReason } from './helpers/tcp-reset.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// TCP connections reset from outside the job, as an operator's `ss -K` (or a firewall's
// tcp-reset, a flapping NIC) does, while every rank exchanges numbered, checksummed messages:
// nothing may be lost, doubled or reordered, and the job must not notice.
const skip = tcpResetSkipReason();

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pids(jobId: string): Promise<number[]> {
  return (await verb(jobId, 'status')).ranks.map((r: { pid: number }) => r.pid);
}

/** Bytes a component carried, summed over ranks. */
async function bytesOver(jobId: string, btl: string): Promise<number> {
  const status = await verb(jobId, 'status');
  return status.ranks.reduce((n: number, r: any) => n + (r.traffic.find((t: any) => t.btl === btl)?.bytesSent ?? 0), 0);
}

/** 3 ranks, tcp preferred and openib (soft) loaded beside it, idle; a failed tcp link probed after `recoveryMs`. */
function tcpBesideOpenib(recoveryMs: number): string[] {
  return [
    '-n', '3',
    '--mca', 'btl', 'tcp,openib,self',
    '--mca', 'btl_openib_provider', 'soft',
    '--mca', 'btl_tcp_exclusivity', '2000',
    '--mca', 'bml_recovery_interval', String(recoveryMs),
  ];
}

describe.skipIf(skip !== undefined)('tcp connections reset from outside (ss -K)', () => {
  it('over tcp alone: the ranks reconnect and send again what was lost; every message once, in order', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'tcp,self']);
    const ranks = await pids(job.jobId);
    for (let round = 0; round < 4; round++) {
      await pause(600);
      expect(resetTcpConnections(ranks), 'connections reset').toBeGreaterThan(0);
    }
    await pause(600);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('a rank stopped (SIGSTOP) past the peer timeout: the peer that loses it is told it was stopped, not only unreachable', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self', '--mca', 'bml_peer_timeout', '2000']);
    const ranks = await pids(job.jobId);
    const stopped = ranks[1]!;
    process.kill(stopped, 'SIGSTOP');
    try {
      // Its connections reset: tcp cannot reconnect to a process that runs no code.
      expect(resetTcpConnections(ranks), 'connections reset').toBeGreaterThan(0);
      const deadline = Date.now() + 30_000;
      while (job.child.exitCode === null && job.child.signalCode === null && Date.now() < deadline) await pause(100);
    } finally {
      // The job, once it ended, took the stopped rank with it.
      if (isProcessRunning(stopped)) process.kill(stopped, 'SIGCONT');
    }
    const out = await job.stop();
    expect(out.code).not.toBe(0);
    const note = `its process (pid ${stopped}) is stopped (SIGSTOP, Ctrl-Z or a debugger)`;
    expect(out.stderr, out.stderr).toContain(`rank 1 cannot be reached any more: ${note} (tcp`);
  }, 120_000);

  it('with openib loaded: traffic fails over to openib at once and comes back to tcp after the recovery interval', async () => {
    job = await startTrafficJob(tcpBesideOpenib(4000));
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp', 'tcp']);
    const ranks = await pids(job.jobId);
    await pause(500);
    const openibBefore = await bytesOver(job.jobId, 'openib');
    expect(resetTcpConnections(ranks)).toBeGreaterThan(0);
    await pause(300);
    // Out of service for the recovery interval, and status says so (with the error, since when);
    // openib carries the traffic meanwhile.
    const failures = (await verb(job.jobId, 'status')).ranks.flatMap((r: any) => r.failures ?? []);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f).toMatchObject({ module: 'tcp', severity: 'endpoint', error: expect.any(String) });
      expect(Date.parse(f.at)).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(await bytesOver(job.jobId, 'openib')).toBeGreaterThan(openibBefore);
    // Probed after the interval, answered, and back in the lists.
    const deadline = Date.now() + 15_000;
    while ((await sendLists(job.jobId)).flat().some((l) => l === 'openib') && Date.now() < deadline) await pause(250);
    expect(await sendLists(job.jobId)).toEqual([
      ['self', 'tcp', 'tcp'],
      ['tcp', 'self', 'tcp'],
      ['tcp', 'tcp', 'self'],
    ]);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('checkpoint prepare right after the reset: the tcp links are tried at once, not after the recovery interval', async () => {
    // tcp carries the traffic until the reset, then openib, until a probe brings tcp back.
    job = await startTrafficJob(tcpBesideOpenib(60_000));
    const ranks = await pids(job.jobId);
    await pause(500);
    expect(resetTcpConnections(ranks)).toBeGreaterThan(0);
    await pause(300);
    expect((await verb(job.jobId, 'status')).ranks.flatMap((r: any) => r.failures ?? []).length).toBeGreaterThan(0);
    expect((await sendLists(job.jobId)).flat()).toContain('openib');
    const prepared = await verb(job.jobId, 'checkpoint', 'prepare');
    expect(prepared.outcome).toBe('done');
    expect(await sendLists(job.jobId)).toEqual([
      ['self', 'tcp', 'tcp'],
      ['tcp', 'self', 'tcp'],
      ['tcp', 'tcp', 'self'],
    ]);
    expect((await verb(job.jobId, 'checkpoint', 'continue')).outcome).toBe('done');
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);
});
