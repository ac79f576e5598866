import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controllerRecordPath, readControllerRecord } from '../src/controller-record.js';
import { EmbeddedWireUp } from '../src/embedded-wireup.js';
import { encodeFrame } from '../src/frames.js';
import { connectTool, findJobs, RankController, WireUpError } from '../src/index.js';
import { parseTcpAddress } from '../src/oob-tcp-auth.js';

// The controller a rank runs when mpirun or srun started the job: TCP, authenticated with the
// job secret by challenge-response, found through the record it writes.
let state: string;
let controller: RankController | undefined;
const previousState = process.env.XDG_STATE_HOME;

beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), 'sy-state-'));
  process.env.XDG_STATE_HOME = state;
});
afterEach(async () => {
  await controller?.close();
  controller = undefined;
  if (previousState === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = previousState;
  rmSync(state, { recursive: true, force: true });
});

const SECRET = 'a'.repeat(64);

async function startController(aborts: string[] = []): Promise<RankController> {
  controller = await RankController.start({
    jobId: 'pmix-4711',
    size: 2,
    secret: SECRET,
    nodeName: 'node1',
    script: '/apps/traffic.mjs',
    args: ['x'],
    cwd: '/apps',
    hosts: ['127.0.0.1'],
    abort: (message) => aborts.push(message),
  });
  return controller;
}

describe('a rank-hosted controller', () => {
  it('writes a private record a tool finds the job by, and removes it on close', async () => {
    const c = await startController();
    expect(c.recordPath).toBe(controllerRecordPath('pmix-4711', join(state, 'switchyard', 'jobs')));
    expect(statSync(c.recordPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(state, 'switchyard', 'jobs')).mode & 0o777).toBe(0o700);
    const record = readControllerRecord(c.recordPath)!;
    expect(record).toMatchObject({
      jobId: 'pmix-4711',
      size: 2,
      secret: SECRET,
      pid: process.pid,
      host: 'node1',
      script: '/apps/traffic.mjs',
      launcher: 'pmix',
    });
    expect(parseTcpAddress(record.controller)).toEqual({ host: '127.0.0.1', port: parseTcpAddress(c.uris[0]!).port });

    const tool = await connectTool(c.recordPath);
    expect(tool).toMatchObject({ jobId: 'pmix-4711', size: 2 });
    expect(await tool.call('status')).toMatchObject({
      jobId: 'pmix-4711',
      np: 2,
      ranks: [
        { rank: 0, state: 'running' },
        { rank: 1, state: 'running' },
      ],
    });
    tool.close();

    // Jobs of `switchyard run` (other tests, other users of this machine) are listed too.
    const [job] = (await findJobs()).filter((j) => j.launcher === 'pmix');
    expect(job).toMatchObject({ jobId: 'pmix-4711', np: 2, launcher: 'pmix', host: 'node1', controller: [record.controller] });
    expect(job!.stale).toBeUndefined();
    await c.close();
    expect(readControllerRecord(c.recordPath)).toBeUndefined();
  });

  it('carries control requests to ranks connected over TCP', async () => {
    const c = await startController();
    const env = { jobId: 'pmix-4711', size: 2, secret: SECRET, mcaCommandLine: [] as Array<[string, string]> };
    const ranks = await Promise.all([0, 1].map((rank) => EmbeddedWireUp.connectTo({ ...env, rank, hnpUri: c.uris[0]! })));
    ranks.forEach((w, rank) => w.onRequest((body) => ({ rank, echo: body })));
    expect(await c.host.request('all', 'ping', 5000)).toEqual(new Map([[0, { rank: 0, echo: 'ping' }], [1, { rank: 1, echo: 'ping' }]]));
    await Promise.all(ranks.map((w) => w.finalize()));
    expect(c.host.status().ranks.map((r) => r.state)).toEqual(['finalized', 'finalized']);
  });

  it('refuses a wrong secret, and a client refuses a controller that cannot prove the secret', async () => {
    const c = await startController();
    const record = readControllerRecord(c.recordPath)!;
    const wrong = {
      jobId: record.jobId,
      pid: 1,
      np: 2,
      script: '',
      args: [],
      cwd: '',
      startTime: '',
      socketPath: '',
      jobDir: '',
      secret: 'b'.repeat(64),
      controller: [record.controller],
    };
    await expect(connectTool(wrong, { connectTimeoutMs: 3000 })).rejects.toThrow(/refused this connection: wrong job secret/);
    const rank = EmbeddedWireUp.connectTo({
      hnpUri: c.uris[0]!,
      jobId: 'pmix-4711',
      rank: 1,
      size: 2,
      secret: 'b'.repeat(64),
      mcaCommandLine: [],
    });
    await expect(rank).rejects.toThrow(WireUpError);

    // A process on a stale port that answers the challenge but not with the job's proof.
    const impostor = createServer((socket) => {
      socket.write(encodeFrame({ type: 'challenge', nonce: 'c'.repeat(64) }));
      socket.once('data', () => socket.write(encodeFrame({ type: 'welcome', jobId: 'pmix-4711', size: 2, mac: 'd'.repeat(64) })));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const port = (impostor.address() as { port: number }).port;
    await expect(connectTool({ ...wrong, secret: SECRET, controller: [`127.0.0.1:${port}`] }, { connectTimeoutMs: 3000 })).rejects.toThrow(/could not prove it belongs to the job/);
    impostor.close();
  });

  it('lists a record whose controller does not answer as stale', async () => {
    const dir = join(state, 'switchyard', 'jobs');
    const c = await startController();
    await c.close();
    // What a killed controller leaves behind: its record, and nobody on its port.
    const record = {
      jobId: 'pmix-dead',
      size: 2,
      controller: '127.0.0.1:1',
      addresses: ['127.0.0.1:1'],
      secret: SECRET,
      pid: 999_999,
      host: 'node1',
      started: new Date().toISOString(),
      script: 's.mjs',
      args: [],
      cwd: '/',
      launcher: 'pmix',
    };
    writeFileSync(join(dir, 'pmix-dead.json'), JSON.stringify(record), { mode: 0o600 });
    expect((await findJobs()).filter((j) => j.launcher === 'pmix')).toEqual([
      expect.objectContaining({ jobId: 'pmix-dead', launcher: 'pmix', stale: true }),
    ]);
  });
});
