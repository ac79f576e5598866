import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { CLI, FIXTURES, ROOT, runJob } from './helpers/run-job.js';

// Issue 17: a job you can see into. stuck.mjs leaves rank 0 with a receive posted for a message
// that never comes (rank 1, tag 9) beside one that came and was not received (rank 1, tag 5).
const TCP = ['-n', '2', '--mca', 'btl', 'tcp,self'];

let job: BackgroundJob | undefined;
let dir: string | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The metric names docs/running-jobs.md lists (its table under "Prometheus metrics"). */
function documentedMetrics(): string[] {
  const doc = readFileSync(join(ROOT, 'docs/running-jobs.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Prometheus metrics'));
  return [...section.matchAll(/^\| `(switchyard_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

describe('looking into a running job', () => {
  it('ctl status --json shows the posted receive that never matches and the unexpected message, per peer', async () => {
    job = await startSteeredJob(TCP, 'stuck.mjs', (d) => [d], 60_000);
    const status = await ctl(['--job', job.jobId, 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const [r0, r1] = status.json.ranks;
    const idle = { rendezvousSending: 0, rendezvousReceiving: 0, queuedSends: 0 };
    expect(r0.pml.peers).toEqual([{ rank: 1, postedReceives: 1, unexpectedMessages: 1, unexpectedBytes: 64, ...idle }]);
    expect(r0.pml.posted).toEqual([{ ctx: 0, source: 1, tag: 9 }]);
    expect(r0.pml.unexpected).toEqual([{ ctx: 0, source: 1, tag: 5, size: 64 }]);
    expect(r1.pml.peers).toEqual([]);
    for (const r of [r0, r1]) {
      expect(r.health.eventLoopDelay.p99Ms).toBeGreaterThanOrEqual(0);
      expect(r.health.heap.usedBytes).toBeGreaterThan(0);
      expect(r.health.rates.map((t: { btl: string }) => t.btl).sort()).toEqual(['self', 'tcp']);
    }
    const text = await ctl(['--job', job.jobId, 'status', '--ranks', '0']);
    expect(text.stdout).toContain('posted: recv from rank 1, tag 9, world');
    expect(text.stdout).toContain('unexpected: 64 B from rank 1, tag 5, world');
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
  }, 120_000);

  it('ctl status --watch appends a status per interval and ends by itself when the job ends', async () => {
    job = await startSteeredJob(TCP, 'stuck.mjs', (d) => [d], 60_000);
    const watch = spawn(process.execPath, [CLI, 'ctl', '--job', job.jobId, 'status', '--watch', '--interval', '0.5', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    watch.stdout.on('data', (d) => (stdout += d));
    const ended = new Promise<number | null>((resolve) => watch.on('close', resolve));
    try {
      const deadline = Date.now() + 60_000;
      while (stdout.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const out = await job.stop();
      expect(out.code, out.stderr).toBe(0);
      expect(await ended).toBe(0);
    } finally {
      watch.kill('SIGKILL');
    }
    const samples = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const s of samples) {
      expect(Number.isNaN(Date.parse(s.at))).toBe(false);
      expect(s.ranks).toHaveLength(2);
    }
  }, 120_000);

  it('ctl status names a link whose module holds sends it never completes, and for how long', async () => {
    // The nodev fixture with reach=hold links every peer and keeps whatever is sent on it: a
    // module that lost its sends and never calls done. A switch to it leaves the traffic there.
    const nodev = ['--mca', 'mca_component_path', join(FIXTURES, 'btl-nodev'), '--mca', 'btl_nodev_reach', 'hold'];
    const started = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self,nodev', ...nodev], 60_000);
    job = started;
    type Stalled = { module: string; peer: number; sends: number; forMs: number };
    type Health = { health: { stalledSends: Stalled[] } };
    const stalled = async (): Promise<Stalled[][]> =>
      (await ctl(['--job', started.jobId, 'status', '--json'])).json.ranks.map((r: Health) => r.health.stalledSends);
    expect(await stalled()).toEqual([[], []]);
    const switched = await ctl(['--job', started.jobId, 'switch', 'nodev']);
    expect(switched.code, switched.stderr).toBe(0);
    const deadline = Date.now() + 30_000;
    let seen: Stalled[][] = [];
    while (Date.now() < deadline && !(seen = await stalled()).every((s) => s.length)) await new Promise((r) => setTimeout(r, 500));
    seen.forEach((links, rank) => {
      expect(links).toEqual([{ module: 'nodev:none', peer: 1 - rank, sends: expect.any(Number), forMs: expect.any(Number) }]);
      expect(links[0]!.sends).toBeGreaterThan(0);
      expect(links[0]!.forMs).toBeGreaterThanOrEqual(2000);
    });
    const text = await ctl(['--job', started.jobId, 'status', '--ranks', '0']);
    expect(text.stdout).toMatch(/link nodev:none -> rank 1: \d+ send\(s\) held by its module, none completed for \d+\.\d s/);
  }, 120_000);

  it('btl_base_verbose: every rank\'s lifecycle trace names the rank', async () => {
    const out = await runJob([...TCP, '--mca', 'btl_base_verbose', '1', 'collectives.mjs'], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(0);
    const traced = out.stderr.split('\n').filter((l) => l.includes('[mca:btl'));
    for (const rank of [0, 1]) expect(traced).toContain(`[rank ${rank}] [mca:btl] open(btl/tcp)`);
    expect(traced.filter((l) => !/^\[rank [01]\] \[mca:btl/.test(l))).toEqual([]);
  }, 90_000);

  it('switchyard run --timeout prints every rank state before ending a hung job', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-stuck-'));
    const out = await runJob([...TCP, '--timeout', '8', 'stuck.mjs', dir], { timeoutMs: 90_000 });
    expect(out.code, out.stderr).toBe(110);
    const dump = out.stderr.slice(out.stderr.indexOf('state of the job at its time limit:'));
    expect(dump).toMatch(/^state of the job at its time limit:/);
    expect(dump).toMatch(/rank 0 \(pid \d+ on [^)]+\):/);
    expect(dump).toMatch(/rank 1 \(pid \d+ on [^)]+\):/);
    expect(dump).toContain('posted: recv from rank 1, tag 9, world');
    expect(dump).toContain('unexpected: 64 B from rank 1, tag 5, world');
    // The dump comes before the job is ended.
    expect(dump.indexOf('posted:')).toBeLessThan(dump.indexOf('aborting the job'));
  }, 120_000);

  it('the metrics endpoint answers in Prometheus text format with the documented names', async () => {
    const names = documentedMetrics();
    expect(names.length).toBeGreaterThan(10);
    let stderr = '';
    job = await startSteeredJob(
      (command) => {
        const [script, ...rest] = command;
        // The parameter form of --metrics-port: a parameter the job knows, not an unknown one.
        const metrics = ['--mca', 'switchyard_metrics_port', '0'];
        const child = spawn(process.execPath, [CLI, 'run', ...TCP, ...metrics, join(FIXTURES, script!), ...rest], {
          cwd: FIXTURES,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        child.stderr!.on('data', (d) => (stderr += d));
        return child;
      },
      'stuck.mjs',
      (d) => [d],
      60_000,
    );
    const deadline = Date.now() + 30_000;
    while (!/metrics at (http:\S+)/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = /metrics at (http:\S+)/.exec(stderr)![1]!;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    const typed = [...body.matchAll(/^# TYPE (\S+) (counter|gauge)$/gm)].map((m) => m[1]);
    expect(typed.sort()).toEqual([...names].sort());
    expect(body).toMatch(new RegExp(`^switchyard_pml_posted_receives\\{job="${job.jobId}",rank="0",peer="1"\\} 1$`, 'm'));
    expect(body).toMatch(new RegExp(`^switchyard_pml_unexpected_bytes\\{job="${job.jobId}",rank="0",peer="1"\\} 64$`, 'm'));
    expect(body).toMatch(/^switchyard_btl_bytes_sent_total\{job="[^"]+",rank="1",btl="tcp"\} [1-9]\d*$/m);
    expect((await fetch(new URL('/other', url))).status).toBe(404);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(stderr).not.toMatch(/unknown MCA parameter/);
  }, 120_000);

  it('refuses a bad --metrics-port or a stray --interval before starting anything', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-stuck-'));
    writeFileSync(join(dir, 'stop'), '');
    const bad = await runJob([...TCP, '--metrics-port', '70000', 'stuck.mjs', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--metrics-port takes [HOST:]PORT with PORT from 0 to 65535, got '70000'");
    const stray = await ctl(['status', '--interval', '1']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--interval goes with --watch');
    const verb = await ctl(['reset', '--watch']);
    expect(verb.code).toBe(2);
  }, 60_000);
});
