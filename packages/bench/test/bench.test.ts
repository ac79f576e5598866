import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../src/options.js';
import { buildPhases } from '../src/plan.js';
import { childrenOf, groupMembers } from '@switchyard/cli-kit';
import { allowedCpus } from '@switchyard/runtime/cpu-binding';
import { FrameReader } from '../src/raw-frame-reader.js';
import { formatSize, parseSize } from '../src/sizes.js';
import { bandwidthMbps, latencyUsec } from '../src/stats.js';
import { cli } from './capture.js';
import { CLI } from './spawn-cli.js';
import { spawn } from 'node:child_process';
import { spawnCli } from './spawn-cli.js';

// Behaviour only: the bench's processes really run (the rank and raw peer programs come from
// dist/, so the package must be built), but no number is held to a speed.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface BenchJson {
  machine: { node: string; cpus: number; platform: string };
  runs: Array<{
    transport: string;
    mode: string;
    latency: Array<{ size: number; usec: number }>;
    bandwidth: Array<{ size: number; mbps: number }>;
    cores: [number[], number[]] | null;
  }>;
  settings: { bindTo: string | null };
  comparisons: Array<{
    mode: string;
    benchmark: string;
    transport: string;
    size: number;
    ratio: number;
    target: unknown;
    pass: boolean | null;
  }>;
  targets: Array<{ id: string; mode: string; pass: boolean; misses: unknown[] }>;
}

describe('bench workload and arithmetic', () => {
  it('uses the documented iteration counts, 10% warm-up, 10 batches', () => {
    const phases = buildPhases(['latency', 'bandwidth'], undefined, 1);
    const counts = phases.map((p) => `${p.benchmark} ${formatSize(p.size)} ${p.iterations}/${p.warmup}`);
    expect(counts).toEqual([
      ...['0', '1', '8', '64', '512', '4K'].map((s) => `latency ${s} 20000/2000`),
      'latency 32K 5000/500',
      'latency 256K 1000/100',
      'latency 1M 300/30',
      'latency 4M 100/10',
      'bandwidth 4K 400/40',
      'bandwidth 16K 400/40',
      'bandwidth 64K 150/15',
      'bandwidth 256K 50/5',
      'bandwidth 1M 20/2',
      'bandwidth 4M 10/1',
    ]);
    for (const p of phases) expect(p).toMatchObject({ batches: 10, window: 64 });
    // Scaled down: whole batches, at least one iteration each; bandwidth skips size 0.
    expect(buildPhases(['latency', 'bandwidth'], [0, 4096, 4 << 20], 0.01).map((p) => p.iterations)).toEqual([200, 200, 10, 10, 10]);
    // Scaled up, a warm-up step stays the default one: the JIT needs messages, not a share of the run.
    const up = buildPhases(['latency', 'bandwidth'], [0, 4 << 20], 50);
    expect(up.map((p) => `${p.iterations}/${p.warmup}`)).toEqual(['1000000/2000', '5000/10', '500/1']);
  });

  it('reports the median batch as half round trips and MB/s', () => {
    const [lat] = buildPhases(['latency'], [8], 0.01); // 200 round trips, 20 a batch
    expect(latencyUsec(lat!, [9, 1, 1, 2, 2, 2, 2, 3, 3, 3])).toBeCloseTo(50); // median 2 ms / 20 / 2
    const [bw] = buildPhases(['bandwidth'], [1 << 20], 1); // 20 windows, 2 a batch
    expect(bandwidthMbps(bw!, Array(10).fill(100))).toBeCloseTo((2 * 64 * (1 << 20)) / 0.1 / 1e6);
  });

  it('parses sizes with k and m', () => {
    expect(['0', '512', '4k', '32K', '1m', '4M'].map(parseSize)).toEqual([0, 512, 4096, 32768, 1 << 20, 4 << 20]);
    expect(parseSize('1.5k')).toMatch(/not a size/);
  });

  it('reassembles frames whatever the read boundaries, large payloads read in place', () => {
    const sizes = [0, 1, 3, 4, 100, 5000, 16 * 1024, 70_000, 0, 200_000, 7];
    const seen: Buffer[] = [];
    const reader = new FrameReader(200_000, false, (payload) => seen.push(Buffer.from(payload)));
    const stream = Buffer.concat(
      sizes.map((size, i) => {
        const frame = Buffer.alloc(4 + size);
        frame.writeUInt32LE(size, 0);
        for (let j = 0; j < size; j++) frame[4 + j] = (i * 31 + j) & 0xff;
        return frame;
      }),
    );
    const { buffer, callback } = reader.onread as { buffer: () => Uint8Array; callback: (n: number, b: Uint8Array) => boolean };
    // Reads of 1, 2, 3 ... 9 bytes, then as large as the reader allows (as the kernel would).
    let offset = 0;
    for (let k = 0; offset < stream.length; k++) {
      const buf = buffer();
      const n = Math.min(buf.length, stream.length - offset, k < 40 ? (k % 9) + 1 : Infinity);
      stream.copy(buf, 0, offset, offset + n);
      callback(n, buf);
      offset += n;
    }
    expect(reader.frames).toBe(sizes.length);
    expect(seen.map((p) => p.length)).toEqual(sizes);
    seen.forEach((p, i) => p.forEach((byte, j) => byte !== ((i * 31 + j) & 0xff) && expect.fail(`frame ${i} byte ${j}`)));
  });
});

const RAW_USAGE = '--raw takes tcp and/or uds, comma-separated (raw Node over a loopback TCP or a Unix domain socket)';

describe('switchyard bench', () => {
  it('ends with 141 and no stack trace when its reader went away (`| head`), as SIGPIPE ends a C tool', async () => {
    for (const args of [['--help'], ['latency', '--sizes', '0', '--iterations-scale', '0.01']]) {
      const child = spawn(process.execPath, [CLI, 'bench', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      // The reading end closed before the bench writes a byte (it has not even started yet).
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(141);
      expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    }
  }, 150_000);

  it('measures switchyard-tcp and raw Node TCP at every size, prints JSON only on stdout, leaves no process', async () => {
    const before = childrenOf(process.pid);
    const { code, stdout, stderr } = await cli(['bench', '--sizes', '0,4k,64k', '--iterations-scale', '0.01', '--json'], { cwd: dir });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as BenchJson;
    expect(doc.machine).toMatchObject({ node: process.version, platform: process.platform });
    expect(doc.machine.cpus).toBeGreaterThan(0);
    expect(doc.runs.map((r) => `${r.transport}/${r.mode}`).sort()).toEqual(['raw-node-tcp/sleep', 'switchyard-tcp/sleep']);
    for (const run of doc.runs) {
      expect(run.latency.map((p) => p.size)).toEqual([0, 4096, 65536]);
      expect(run.bandwidth.map((p) => p.size)).toEqual([4096, 65536]);
      for (const p of run.latency) expect(p.usec).toBeGreaterThan(0);
      for (const p of run.bandwidth) expect(p.mbps).toBeGreaterThan(0);
      for (const v of [...run.latency.map((p) => p.usec), ...run.bandwidth.map((p) => p.mbps)]) expect(Number.isFinite(v)).toBe(true);
    }
    const latency = doc.comparisons.filter((c) => c.benchmark === 'latency');
    expect(latency.map((c) => c.size)).toEqual([0, 4096, 65536]);
    for (const c of latency) expect(c).toMatchObject({ transport: 'switchyard-tcp', mode: 'sleep', target: { max: 1.2 } });
    // Bandwidth is held to its target at 4 KiB and from 1 MiB on, not at 64 KiB.
    const bandwidth = doc.comparisons.filter((c) => c.benchmark === 'bandwidth');
    expect(bandwidth.map((c) => [c.size, c.target])).toEqual([
      [4096, { min: 0.9 }],
      [65536, null],
    ]);
    for (const c of doc.comparisons) expect(c.ratio).toBeGreaterThan(0);
    // Placed alike, as mpirun places two ranks: each process of both runs on a core of its own.
    expect(doc.settings.bindTo).toBeNull();
    const cpus = allowedCpus()!;
    const placed = cpus.length >= 2 ? [[cpus[0]], [cpus[1]]] : [cpus, cpus];
    for (const run of doc.runs) expect(run.cores, run.transport).toEqual(placed);
    // Progress went to stderr, a line per phase (not a terminal).
    expect(stderr).toContain('switchyard bench: sleep latency 4K (2 of 5)');
    expect(stderr).toContain('switchyard bench: sleep bandwidth 64K (5 of 5)');
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 30_000);

  it('prints tables with ratios and the targets when not asked for JSON, and draws them with --chart', async () => {
    const { code, stdout, stderr } = await cli(
      ['bench', 'latency', '--sizes', '8', '--iterations-scale', '0.01', '--chart', 'latency.svg'],
      { cwd: dir },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('Latency, half round trip, µs (lower is better)');
    expect(stdout).toMatch(/size\s+switchyard-tcp\s+raw Node TCP\s+tcp\/raw\s+target/);
    expect(stdout).toMatch(/\n\s+8\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+(PASS|MISS)\n/);
    expect(stdout).toMatch(/sleep: btl-tcp latency within 1\.2x of raw Node TCP: (PASS|MISS)/);
    expect(stdout).not.toContain('Bandwidth');
    const svg = readFileSync(join(dir, 'latency.svg'), 'utf8');
    expect([...svg.matchAll(/data-benchmark="(\w+)"/g)].map((m) => m[1])).toEqual(['latency']);
    expect([...svg.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1])).toEqual(['switchyard-tcp', 'raw Node TCP']);
    expect(stderr).toContain(`switchyard bench: chart written to ${join(dir, 'latency.svg')}`);
  }, 30_000);

  it('runs raw Node over a Unix socket with --raw uds: a raw-node-uds run, compared but held to no target', async () => {
    const before = childrenOf(process.pid);
    // The bench runs in this process: a temporary folder of the test's own shows what it leaves there.
    const ownTmp = join(dir, 'tmp');
    mkdirSync(ownTmp);
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = ownTmp;
    const { code, stdout, stderr } = await cli(['bench', '--raw', 'uds', '--sizes', '0,4k', '--iterations-scale', '0.01', '--json'], {
      cwd: dir,
    }).finally(() => (tmp === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = tmp)));
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as BenchJson;
    expect(doc.runs.map((r) => `${r.transport}/${r.mode}`).sort()).toEqual(['raw-node-uds/sleep', 'switchyard-tcp/sleep']);
    const uds = doc.runs.find((r) => r.transport === 'raw-node-uds')!;
    expect(uds.latency.map((p) => p.size)).toEqual([0, 4096]);
    expect(uds.bandwidth.map((p) => p.size)).toEqual([4096]);
    for (const v of [...uds.latency.map((p) => p.usec), ...uds.bandwidth.map((p) => p.mbps)]) expect(v).toBeGreaterThan(0);
    expect(doc.comparisons.map((c) => `${c.benchmark} ${c.size} ${c.target}`)).toEqual([
      'latency 0 null',
      'latency 4096 null',
      'bandwidth 4096 null',
    ]);
    // btl-tcp's targets are against raw Node TCP, which did not run.
    expect(doc.targets).toEqual([]);
    expect(stderr).toContain('sleep: starting switchyard-tcp, raw-node-uds');
    // The socket's path and its private folder are gone.
    expect(readdirSync(ownTmp).filter((name) => name.startsWith('sy-bench-uds-'))).toEqual([]);
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 30_000);

  it('prints and draws raw Node UDS beside raw Node TCP with --raw tcp,uds', async () => {
    const { code, stdout, stderr } = await cli(
      ['bench', 'latency', '--sizes', '8', '--iterations-scale', '0.01', '--raw', 'uds,tcp', '--chart', 'uds.svg'],
      { cwd: dir },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/size\s+switchyard-tcp\s+raw Node TCP\s+raw Node UDS\s+tcp\/raw\s+tcp\/uds\s+target/);
    expect(stdout).toMatch(/\n\s+8\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+[\d.]+x\s+(PASS|MISS)\n/);
    const svg = readFileSync(join(dir, 'uds.svg'), 'utf8');
    expect([...svg.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1])).toEqual(['switchyard-tcp', 'raw Node TCP', 'raw Node UDS']);
  }, 30_000);

  it('leaves every process of every run to the scheduler with --bind-to none, and says so', async () => {
    const { code, stdout, stderr } = await cli(['bench', 'latency', '--sizes', '0', '--iterations-scale', '0.01', '--bind-to', 'none'], {
      cwd: dir,
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('placement: --bind-to none, every process of every run left to the scheduler');
    const json = await cli(['bench', 'latency', '--sizes', '0', '--iterations-scale', '0.01', '--bind-to', 'none', '--json'], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as BenchJson;
    expect(doc.settings.bindTo).toBe('none');
    expect(doc.runs.map((r) => r.transport).sort()).toEqual(['raw-node-tcp', 'switchyard-tcp']);
    for (const run of doc.runs) expect(run.cores, run.transport).toEqual([allowedCpus(), allowedCpus()]);
  }, 30_000);

  it('runs raw Node TCP by default, and over a Unix socket too when sm is measured', () => {
    expect(parseBenchArgs([]).raw).toEqual(['tcp']);
    expect(parseBenchArgs(['--btl', 'tcp,sm']).raw).toEqual(['tcp', 'uds']);
    expect(parseBenchArgs(['--btl', 'sm', '--raw', 'tcp']).raw).toEqual(['tcp']);
    expect(parseBenchArgs(['--raw', 'uds,tcp,uds']).raw).toEqual(['tcp', 'uds']);
  });

  it('prints usage with --help', async () => {
    const { code, stdout } = await cli(['bench', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: switchyard bench \[latency\|bandwidth\|all\]/);
    expect(stdout).toMatch(/--raw LIST {11}the raw Node baselines: tcp/);
    expect(stdout).toMatch(/--bind-to core\|none {2}where every run's two processes run/);
    expect(stdout).toContain("sm sleeping latency at most raw-node-uds's at 0-512 B");
  });

  it.each([
    [['pingpong'], "unknown benchmark 'pingpong'; choose latency, bandwidth, all, switch, failover, coll, checkpoint or chart"],
    [['--chart', 'results.png'], "--chart takes a file name ending in .svg, got 'results.png'"],
    [['--chart', 'nowhere/results.svg'], `--chart: folder ${join(dir, 'nowhere')} does not exist`],
    [['latency', 'bandwidth'], "unexpected argument 'bandwidth'"],
    [['--sizes', '4x'], "--sizes: '4x' is not a size"],
    [['--sizes', '1,-8'], "--sizes: '-8' is not a size"],
    [['--sizes', '64m'], "--sizes: size '64m' is larger than the limit of 16M"],
    [['bandwidth', '--sizes', '0'], '--sizes: bandwidth needs a size above 0'],
    [['--iterations-scale', '0'], "--iterations-scale takes a number greater than 0 and at most 1000 (e.g. 0.1), got '0'"],
    [['--iterations-scale', '-0.5'], "--iterations-scale takes a number greater than 0 and at most 1000 (e.g. 0.1), got '-0.5'"],
    [['--iterations-scale', 'fast'], "--iterations-scale takes a number greater than 0 and at most 1000 (e.g. 0.1), got 'fast'"],
    [['--progress', 'spin'], "--progress takes sleep, busy or both, got 'spin'"],
    [['--btl', '^tcp'], "--btl takes a comma-separated list of BTL names (e.g. tcp,openib), got '^tcp'"],
    [['--btl', 'self'], '--btl: self is added to every run'],
    [['--mca', 'btl', 'tcp,self'], '--mca btl is set by the bench itself; use --btl'],
    [['--mca', 'pml_busy_poll', '1'], '--mca pml_busy_poll is set by the bench itself; use --progress'],
    [['--frobnicate'], "unknown option '--frobnicate'"],
    [['--raw', 'unix'], `${RAW_USAGE}, got 'unix' in 'unix'`],
    [['--raw', 'tcp,'], `${RAW_USAGE}, got '' in 'tcp,'`],
    [['--bind-to', 'socket'], "--bind-to takes core or none, got 'socket'"],
  ])('refuses %j with a usage error', async (argv, message) => {
    const { code, stdout, stderr } = await cli(['bench', ...argv], { cwd: dir });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`switchyard bench: ${message}`);
    expect(stderr).toContain("Run 'switchyard bench --help' for usage.");
  });

  it('refuses a BTL that no component here declares as a usage error, before starting anything', async () => {
    const before = childrenOf(process.pid);
    const { code, stdout, stderr } = await cli(['bench', '--btl', 'tcp,nosuch', '--iterations-scale', '0.01'], { cwd: dir });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^switchyard bench: --btl: no btl component 'nosuch' here \(found: [a-z, ]*tcp/);
    expect(stderr).not.toContain('starting');
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 30_000);

  it('answers a failed run on stdout too when asked for --json, and exits 1', async () => {
    // openib without its software provider: no RDMA device here, so its job cannot start.
    const argv = ['bench', 'latency', '--btl', 'openib', '--sizes', '0', '--iterations-scale', '0.01', '--json'];
    const { code, stdout, stderr } = await cli(argv, { cwd: dir });
    expect(code, stderr).toBe(1);
    const answer = JSON.parse(stdout) as { ok: boolean; outcome: string; code: string; message: string };
    expect(answer).toMatchObject({ ok: false, outcome: 'failed', code: 'ERR_SWITCHYARD_BENCH_RUN' });
    expect(answer.message).toContain('the switchyard-openib job (--mca btl openib,self) failed');
    expect(stderr).toContain(`switchyard bench: ${answer.message}`);
  }, 30_000);

  it('removes on its next run the folders a bench killed with SIGKILL left in the temporary directory', async () => {
    const { child, started, closed } = spawnCli(['bench', 'latency', '--sizes', '0', '--iterations-scale', '50'], dir, 'sleep latency 0');
    const leftBehind = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`switchyard-bench-${child.pid}-`));
    try {
      await started;
      expect(leftBehind().length).toBeGreaterThan(0);
      process.kill(-child.pid!, 'SIGKILL');
      await closed;
      // Nothing removes them on the way out of a SIGKILL.
      expect(leftBehind().length).toBeGreaterThan(0);
      const next = await cli(['bench', '--sizes', '0', '--iterations-scale', '0'], { cwd: dir });
      expect(next.code).toBe(2);
      expect(leftBehind()).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }
  }, 30_000);

  it('ends every process it started when interrupted', async () => {
    // Long enough to be interrupted mid-measurement: 0-byte ping-pong, 1,000,000 round trips.
    const { child, started, closed, stderr } = spawnCli(
      ['bench', 'latency', '--sizes', '0', '--iterations-scale', '50'],
      dir,
      'sleep latency 0 (1 of 1)',
    );
    try {
      await started;
      expect(groupMembers(child.pid!).length).toBe(5); // the bench, 2 ranks, 2 raw peers
      child.kill('SIGINT');
      expect(await closed).toBe(130);
      expect(stderr()).toContain('switchyard bench: interrupted by SIGINT');
      expect(groupMembers(child.pid!)).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }, 30_000);
});
