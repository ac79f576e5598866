import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { FIXTURES } from './helpers/run-job.js';
import { pmixSkipReason, spawnMpirun } from './helpers/run-mpirun.js';
import { expectExactlyOnceInOrder, verb } from './helpers/traffic-checks.js';

// What a process that does not know the job secret can make a running job hold: btl-tcp reads
// only a handshake from it, the launcher's controller only a hello; oversized frames and floods
// of connections are closed, the ranks' memory stays flat, and the job finishes undisturbed.
let job: BackgroundJob | undefined;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  job?.kill();
  job = undefined;
});

const MIB = 1024 * 1024;

function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

/** The loopback TCP port `pid` listens on (a rank's btl-tcp listener), as `ss -tlnp` lists it. */
function loopbackListenPort(pid: number): number {
  const out = spawnSync('ss', ['-tlnpH'], { encoding: 'utf8' });
  for (const line of out.stdout.split('\n')) {
    const m = /^\S+\s+\d+\s+\d+\s+127\.0\.0\.1:(\d+)\s/.exec(line);
    if (m && line.includes(`pid=${pid},`)) return Number(m[1]);
  }
  throw new Error(`pid ${pid} listens on no loopback TCP port:\n${out.stdout}`);
}

/** A raw connection; resolves `closed` when the far side closed it, whatever we were writing. */
type Target = { port: number; host?: string } | { path: string };

function open(target: Target): { socket: Socket; closed: Promise<void>; got: () => number } {
  const socket = connect(target as { port: number; host?: string } & { path: string });
  socket.on('error', () => {});
  sockets.push(socket);
  let got = 0;
  socket.on('data', (d: Buffer) => (got += d.length));
  return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve())), got: () => got };
}

/** btl-tcp's frame header: magic 'SY', type, tag, big-endian length. */
function tcpHeader(type: number, length: number): Buffer {
  const h = Buffer.from([0x53, 0x59, type, 0x80, 0, 0, 0, 0]);
  h.writeUInt32BE(length, 4);
  return h;
}

/** The controller's frame header: a little-endian length. */
function oobHeader(length: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(length);
  return h;
}

/** Sends `header` and 1 MiB of the payload it announces; resolves once the far side closed. */
async function oversized(target: Target, header: Buffer): Promise<void> {
  const c = open(target);
  c.socket.write(header);
  c.socket.write(Buffer.alloc(MIB, 0x41));
  await c.closed;
}

/** Opens `count` silent connections; resolves once all but at most `kept` were closed on arrival. */
async function flood(target: Target, count: number, kept: number): Promise<void> {
  let closed = 0;
  const conns = Array.from({ length: count }, () => open(target));
  conns.forEach((c) => void c.closed.then(() => closed++));
  while (closed < count - kept) await new Promise((r) => setTimeout(r, 20));
  for (const c of conns) c.socket.destroy();
  await Promise.all(conns.map((c) => c.closed));
}

describe('limits before authentication, on a running job', () => {
  it('btl-tcp and the controller close oversized, early and surplus connections; memory stays flat and the job completes', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self', '--mca', 'btl_base_verbose', '1']);
    const status = await verb(job.jobId, 'status');
    const rank0: number = status.ranks[0].pid;
    const launcher = job.child.pid!;
    const port = loopbackListenPort(rank0);
    const [record] = (await ctl(['jobs', '--json'])).json.filter((j: { jobId: string }) => j.jobId === job!.jobId);
    const controller = { path: record.socketPath as string };
    const before = { rank: rssBytes(rank0), launcher: rssBytes(launcher) };

    for (let i = 0; i < 20; i++) {
      // DATA announcing 100 MiB (far above max_send_size) and a handshake response of 100 MiB.
      await oversized({ port }, tcpHeader(5, 100 * MIB));
      await oversized({ port }, tcpHeader(2, 100 * MIB));
      // DATA within max_send_size: still no data before the handshake.
      await oversized({ port }, tcpHeader(5, 512 * 1024));
      await oversized(controller, oobHeader(100 * MIB));
    }
    // More silent callers than either side keeps waiting (64 + 2 per rank): the rest are closed at once.
    await flood({ port }, 300, 64 + 2 * 2);
    await flood(controller, 300, 64 + 2 * 2);

    // Generous: a rank buffering even one announced frame would grow by 100 MiB.
    expect(rssBytes(rank0) - before.rank).toBeLessThan(50 * MIB);
    expect(rssBytes(launcher) - before.launcher).toBeLessThan(50 * MIB);
    // The job still answers its tools.
    expect((await verb(job.jobId, 'status')).ranks).toHaveLength(2);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
    expect(out.stderr).toMatch(/dropped connection from 127\.0\.0\.1:\d+: data frame before the handshake completed/);
    expect(out.stderr).toMatch(/handshake frame of 104857600 bytes exceeds 4096/);
    expect(out.stderr).toMatch(/callers are already in their handshake/);
    expect(out.stderr).toMatch(/before its hello: incoming frame of 104857600 bytes exceeds 4096/);
    expect(out.stderr).toMatch(/refusing out-of-band connections: 68 are already waiting to say hello/);
  }, 120_000);
});

describe.skipIf(pmixSkipReason() !== undefined)('limits before authentication, on the controller rank 0 runs under mpirun', () => {
  it('closes oversized first frames and surplus connections on its TCP port; rank 0 stays flat and the job completes', async () => {
    const state = mkdtempSync(join(tmpdir(), 'sy-state-'));
    try {
      const env = { SWITCHYARD_MCA_btl: 'tcp,self', XDG_STATE_HOME: state };
      job = await startTrafficJob((command) => spawnMpirun(2, [process.execPath, ...command], { cwd: FIXTURES, env, timeoutMs: 90_000 }));
      const record = JSON.parse(readFileSync(join(state, 'switchyard', 'jobs', `${job.jobId}.json`), 'utf8'));
      const [host, port] = (record.controller as string).split(/:(?=\d+$)/) as [string, string];
      const controller = { host, port: Number(port) };
      const before = rssBytes(record.pid);
      for (let i = 0; i < 20; i++) await oversized(controller, oobHeader(100 * MIB));
      await flood(controller, 300, 64 + 2 * 2);
      expect(rssBytes(record.pid) - before).toBeLessThan(50 * MIB);
      const out = await job.stop();
      expect(out.code, out.stderr).toBe(0);
      expectExactlyOnceInOrder(out.stdout, 2);
      expect(out.stderr).toMatch(/before its hello: incoming frame of 104857600 bytes exceeds 4096/);
      expect(out.stderr).toMatch(/refusing out-of-band connections: 68 are already waiting to say hello/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);
});
