import { spawn, spawnSync } from 'node:child_process';
import { chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { hostname } from 'node:os';
import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { controlSoftDevice, listSoftDevices, SoftVerbsAdminCodes, SoftVerbsAdminError } from '../src/admin.js';
import { component } from '../src/btl/component.js';
import { OpenibErrorCodes } from '../src/btl/errors.js';
import { softVerbsDir } from '@switchyard/verbs';
import { softVerbsFolder } from '../../verbs/src/soft/runtime-dir.js';
// Not part of the package's API: how a soft device's socket names its process.
import { newMgmtSocketName, pidOfAnySocketName } from '../../verbs/src/soft/address.js';
import { openibParams, RecordingHost } from './helpers/btl-job.js';
import { buildPackage, killJsonChildren, startJsonChild, type JsonChild } from '../../verbs/test/helpers/json-child.js';
import { waitFor } from '../../verbs/test/helpers/verbs-end.js';

// Rank 1 runs in a child process (fixtures/openib-rank.mjs); rank 0 is this process. Faults are
// injected into the child's soft device from here, through the management socket, as an
// operator would with `switchyard verbs`. Bounds on waits are generous: they catch hangs, they
// do not measure.
const PACKAGE_DIR = join(import.meta.dirname, '..');
const RANK_FIXTURE = join(import.meta.dirname, 'fixtures', 'openib-rank.mjs');
beforeAll(() => buildPackage(PACKAGE_DIR), 60_000);
afterAll(killJsonChildren);

const WAIT_MS = 15_000;

/** Rank 0: an openib module in this process, and a pump keeping sends, puts and gets in flight to rank 1. */
class Rank0 {
  readonly host = new RecordingHost();
  module!: BtlModule;
  endpoint!: BtlEndpoint;
  readonly pump = { running: false, issued: 0, ok: 0, failed: 0, errors: new Set<string>() };
  #remote: unknown;

  async init(): Promise<this> {
    const ctx = {
      jobId: 'fault',
      rank: 0,
      size: 2,
      hostname: hostname(),
      secret: 's',
      params: openibParams({ provider: 'soft' }),
      host: this.host,
      log: () => {},
    };
    [this.module] = await component.init(ctx);
    return this;
  }

  /** Wires rank 0 and the child's rank 1 (each adds the other's card), up to connected on both. */
  async wire(child: JsonChild): Promise<Record<string, unknown>> {
    const card = await child.next('card');
    this.#remote = card.memory;
    child.send({ type: 'add', card: this.module.businessCard });
    const procs = [
      { rank: 0, hostname: hostname(), local: true, cards: [this.module.businessCard] },
      { rank: 1, hostname: hostname(), local: true, cards: [card.card] },
    ];
    this.endpoint = (await this.module.addProcs(procs))[1]!;
    await this.module.connected!(this.endpoint);
    await child.next('connected');
    return card;
  }

  start(): void {
    this.pump.running = true;
    for (let i = 0; i < 8; i++) this.#one();
  }

  async stop(): Promise<void> {
    this.pump.running = false;
    await this.module.flush();
  }

  #one(): void {
    if (!this.pump.running) return;
    const n = ++this.pump.issued;
    const done = (error?: Error): void => {
      if (error) {
        this.pump.failed++;
        this.pump.errors.add((error as Error & { code?: string }).code ?? error.message);
      } else this.pump.ok++;
      setImmediate(() => this.#one());
    };
    // Fragments (the child echoes them), and RDMA writes into and reads from the child's registered memory.
    if (n % 8 === 0) this.module.put!(this.endpoint, Buffer.alloc(512, n & 0xff), this.#remote, 0, done);
    else if (n % 8 === 4) this.module.get!(this.endpoint, Buffer.alloc(512), this.#remote, 1024, done);
    else this.module.send(this.endpoint, 0x41, [Buffer.alloc(1024, n & 0xff)], done);
  }
}

function socketsOf(pid: number): string[] {
  return readdirSync(softVerbsDir())
    .filter((name) => pidOfAnySocketName(name) === pid)
    .sort();
}

/** Both ways busy: rank 0 sees the child's fragments and echoes, and its own sends complete. */
async function trafficFlowing(child: JsonChild, self: Rank0): Promise<void> {
  child.send({ type: 'pump' });
  await child.next('pumping');
  self.start();
  const from = self.host.received.length;
  await waitFor('traffic both ways', () => self.pump.ok >= 40 && self.host.received.length - from >= 40, WAIT_MS);
  expect(new Set(self.host.received.slice(from).map((r) => r.tag))).toEqual(new Set([0x42, 0x43]));
}

/** After the fault: every operation on both sides completed, some in error, nothing pending. */
async function everythingCompleted(child: JsonChild, self: Rank0): Promise<void> {
  await self.stop();
  expect(self.pump.failed).toBeGreaterThan(0);
  expect(self.pump.ok + self.pump.failed).toBe(self.pump.issued);
  expect([...self.pump.errors]).toEqual([OpenibErrorCodes.LINK_FAILED]);
  child.send({ type: 'stop' });
  const stopped = await child.next('stopped', WAIT_MS);
  expect(stopped.failed).toBeGreaterThan(0);
  expect((stopped.ok as number) + (stopped.failed as number)).toBe(stopped.issued);
}

/** The peer (rank 0) notices as with RC: its QP to the child runs out of retries, once. */
async function peerNoticed(self: Rank0): Promise<void> {
  await waitFor("rank 0's endpoint error", () => self.host.errors.length > 0, WAIT_MS);
  expect(self.host.errors).toHaveLength(1);
  expect(self.host.errors[0]).toMatchObject({ severity: 'endpoint', endpoint: self.endpoint, module: self.module });
  expect(self.host.errors[0]!.error).toMatchObject({ code: OpenibErrorCodes.LINK_FAILED });
  expect(self.host.errors[0]!.error.message).toMatch(/to rank 1 failed: RETRY_EXC_ERR/);
}

/** After recovery, a new module on each side carries traffic: fragments go and are echoed. */
async function newModulesWork(child: JsonChild, oldGid: string): Promise<void> {
  const fresh = await new Rank0().init();
  try {
    const card = await fresh.wire(child);
    expect((card.card as { gid: string }).gid).not.toBe(oldGid);
    for (let i = 0; i < 5; i++) fresh.module.send(fresh.endpoint, 0x41, [Buffer.from(`again ${i}`)]);
    await waitFor('the echoes', () => fresh.host.received.filter((r) => r.tag === 0x42).length === 5, WAIT_MS);
    expect(fresh.host.received.map((r) => r.data.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `again ${i}`));
    expect(fresh.host.errors).toEqual([]);
  } finally {
    await fresh.module.finalize();
  }
}

/**
 * Rank 1 in a child and rank 0 here, wired, with traffic flowing both ways; `body` injects a
 * fault. Everything is finalized and the child exits whatever happens.
 */
async function busyJob(body: (child: JsonChild, self: Rank0, gid: string) => Promise<void>): Promise<void> {
  const child = startJsonChild(RANK_FIXTURE);
  const self = await new Rank0().init();
  try {
    const card = await self.wire(child);
    await trafficFlowing(child, self);
    await body(child, self, (card.card as { gid: string }).gid);
  } finally {
    await self.module.finalize();
    child.send({ type: 'exit' });
    await child.exited;
  }
}

/**
 * After a device fault in the child: its module reported `code` once, rank 0 noticed, all
 * work completed on both sides, and the child's finalize completed.
 */
async function faultHandled(child: JsonChild, self: Rank0, code: string, message: RegExp): Promise<void> {
  const fatal = await child.next('error', WAIT_MS);
  expect(fatal).toMatchObject({ severity: 'fatal', code });
  expect(fatal.message).toMatch(message);
  await peerNoticed(self);
  await everythingCompleted(child, self);
  child.send({ type: 'finalize' });
  const finalized = await child.next('finalized', WAIT_MS);
  // Every descriptor the module opened is closed again; a port left down keeps the management socket.
  expect(finalized.fds).toBe((finalized.fdsBefore as number) + (code === OpenibErrorCodes.PORT_DOWN ? 1 : 0));
  expect(child.messages.filter((m) => m.type === 'error')).toHaveLength(1);
  await self.module.finalize();
}

describe('faults injected into a running process soft device from outside', () => {
  it('reset: the module reports fatal once, the peer sees RETRY_EXC_ERR, nothing hangs, finalize is clean, a new module works at a new ' +
    'GID', async () => {
    await busyJob(async (child, self, gid) => {
      const result = await controlSoftDevice(child.pid, 'reset');
      // A reset device is no longer open: no address until the next open.
      expect(result).toEqual({
        pid: child.pid,
        devices: [{ device: 'soft0', gid: null, port: 1, state: 'ACTIVE', contexts: 0, queuePairs: 0 }],
      });
      await faultHandled(child, self, OpenibErrorCodes.DEVICE_FAILED, /openib:soft0:1: device soft0 failed or was reset/);
      expect(socketsOf(child.pid)).toEqual([]);

      child.send({ type: 'init' });
      await newModulesWork(child, gid);
    });
  });

  it(
    'fail: port DOWN until restore; the module reports fatal, the peer errors, init is refused ' +
      'while down and works after restore',
    async () => {
      await busyJob(async (child, self, gid) => {
        const failed = await controlSoftDevice(child.pid, 'fail');
        expect(failed.devices).toEqual([{ device: 'soft0', gid, port: 1, state: 'DOWN', contexts: 1, queuePairs: 1 }]);
        await faultHandled(child, self, OpenibErrorCodes.PORT_DOWN, /openib:soft0:1: port 1 of soft0 (is DOWN|went down)/);

        // Only the management socket stays, so that restore can reach the process.
        expect(socketsOf(child.pid)).toEqual([expect.stringMatching(/\.mgmt\.sock$/)]);
        const listed = (await listSoftDevices()).find((p) => p.pid === child.pid);
        expect(listed).toEqual({
          pid: child.pid,
          devices: [{ device: 'soft0', gid: null, port: 1, state: 'DOWN', contexts: 0, queuePairs: 0 }],
        });
        await expect(controlSoftDevice(child.pid, 'reset')).rejects.toMatchObject({ code: SoftVerbsAdminCodes.NOT_OPEN });

        child.send({ type: 'init' });
        expect((await child.next('init-failed')).message).toMatch(/no active RDMA port \(found soft0:1 DOWN\)/);

        const restored = await controlSoftDevice(child.pid, 'restore');
        expect(restored.devices).toEqual([{ device: 'soft0', gid: null, port: 1, state: 'ACTIVE', contexts: 0, queuePairs: 0 }]);
        await waitFor('the management socket to go', () => socketsOf(child.pid).length === 0, WAIT_MS);

        child.send({ type: 'init' });
        await newModulesWork(child, gid);
      });
    });

  it.skipIf(process.getuid?.() !== 0)("as root, takes no answer from a socket another user planted under root's pid", async () => {
    const child = startJsonChild(RANK_FIXTURE);
    const base = mkdtempSync(join(tmpdir(), 'sy-planted-'));
    const planted = join(base, 'switchyard-65534', softVerbsFolder());
    const asked: string[] = [];
    const fake = createServer((socket) => socket.on('data', (d) => asked.push(String(d))).end('{"ok":true,"devices":[]}\n'));
    // A process of the other user's own.
    const theirs = spawn('sleep', ['30'], { uid: 65534, gid: 65534, stdio: 'ignore' });
    try {
      await child.next('card');
      mkdirSync(planted, { recursive: true, mode: 0o700 });
      chownSync(join(base, 'switchyard-65534'), 65534, 65534);
      chownSync(planted, 65534, 65534);
      // Named after the child, a root process with a real device: as the other user would name it.
      const path = join(planted, newMgmtSocketName(child.pid));
      await new Promise<void>((resolve) => fake.listen(path, resolve));
      lchownSync(path, 65534, 65534);
      const dirs = [softVerbsDir(), planted];
      const listed = (await listSoftDevices({ dirs })).filter((p) => p.pid === child.pid);
      expect(listed.map((p) => p.devices.map((d) => d.device))).toEqual([['soft0']]);
      expect((await controlSoftDevice(child.pid, 'restore', 'soft0', { dirs })).devices).toMatchObject([{ device: 'soft0' }]);
      expect(asked).toEqual([]);
      // A link named after the other user's own process, to root's real socket: root's faults for
      // that process must not reach root's device.
      const prefix = child.pid.toString(16).padStart(8, '0');
      const own = readdirSync(softVerbsDir()).find((n) => n.startsWith(prefix) && n.endsWith('.mgmt.sock'))!;
      const link = join(planted, newMgmtSocketName(theirs.pid!));
      symlinkSync(join(softVerbsDir(), own), link);
      lchownSync(link, 65534, 65534);
      expect((await listSoftDevices({ dirs })).map((p) => p.pid)).not.toContain(theirs.pid);
      await expect(controlSoftDevice(theirs.pid!, 'fail', 'soft0', { dirs })).rejects.toBeInstanceOf(SoftVerbsAdminError);
    } finally {
      theirs.kill();
      fake.close();
      rmSync(base, { recursive: true, force: true });
      child.send({ type: 'exit' });
      await child.exited;
    }
  });

  it('refuses what cannot be done, with typed codes', async () => {
    const child = startJsonChild(RANK_FIXTURE);
    try {
      await child.next('card');
      const code = (err: unknown) => (err instanceof SoftVerbsAdminError ? err.code : err);
      await expect(controlSoftDevice(child.pid, 'fail', 'mlx5_0').catch(code)).resolves.toBe(SoftVerbsAdminCodes.NO_DEVICE);
      await expect(controlSoftDevice(child.pid, 'fail', 'mlx5_0')).rejects.toThrow(
        `process ${child.pid} has no soft verbs device 'mlx5_0' (it has soft0)`,
      );
      // A live process without soft devices: the one that started this test runner.
      await expect(controlSoftDevice(process.ppid, 'reset').catch(code)).resolves.toBe(SoftVerbsAdminCodes.NO_DEVICE);
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      await expect(controlSoftDevice(gone, 'reset')).rejects.toMatchObject({
        code: SoftVerbsAdminCodes.NO_PROCESS,
        message: `no process with pid ${gone}`,
      });
      await expect(controlSoftDevice(-1, 'reset')).rejects.toThrow(/positive integer/);
      // A restore of a port that is up changes nothing and says so by the state.
      expect((await controlSoftDevice(child.pid, 'restore')).devices).toMatchObject([{ device: 'soft0', state: 'ACTIVE', contexts: 1 }]);
    } finally {
      child.send({ type: 'exit' });
      await child.exited;
    }
  });
});
