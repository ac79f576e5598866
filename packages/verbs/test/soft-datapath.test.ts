import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSoftProvider } from '../src/soft/provider.js';
import { socketPathForGid } from '../src/soft/address.js';
import { softVerbsDir } from '../src/soft/runtime-dir.js';
import { Access } from '../src/constants.js';
import { VerbsError } from '../src/errors.js';
import { connect, endsClosedAfterEach, sge, waitFor } from './helpers/verbs-end.js';

const end = endsClosedAfterEach();

describe('the soft device', () => {
  it('is soft0 with one active port addressed by a GID, and listens in a private folder only while open', () => {
    const provider = createSoftProvider();
    const [device] = provider.listDevices();
    expect(device).toMatchObject({ name: 'soft0', ports: [{ port: 1, state: 'ACTIVE', lid: 0, mtu: 4096, linkLayer: 'ETHERNET' }] });
    expect(device!.guid).toMatch(/^[0-9a-f]{16}$/);
    const gid = device!.ports[0]!.gid;
    expect(gid).toMatch(/^fe80:0000:0000:0000(:[0-9a-f]{4}){4}$/);
    const dir = softVerbsDir();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const path = socketPathForGid(dir, gid);
    expect(existsSync(path)).toBe(false);
    const e = end(provider);
    expect(e.ctx.queryPort(1).gid).toBe(gid);
    expect(existsSync(path)).toBe(true);
    e.close();
    expect(existsSync(path)).toBe(false);
  });

  // A container sharing /tmp, or `unshare -p`: a pid in a socket's name means nothing there.
  const unshareSkip = process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0;
  const title = 'keeps its sockets from a process in another pid namespace, which sweeps its own folder';
  it.skipIf(!process.env.CI && unshareSkip)(title, () => {
    const e = end(createSoftProvider());
    const dir = softVerbsDir();
    const path = socketPathForGid(dir, e.ctx.queryPort(1).gid);
    expect(existsSync(path)).toBe(true);
    // The other namespace's process opens a device of its own: its sweep must not take ours.
    const dist = new URL('../dist/soft/', import.meta.url).href;
    const script = `const { createSoftProvider } = await import('${dist}provider.js');
const { softVerbsDir } = await import('${dist}runtime-dir.js');
const provider = createSoftProvider();
const context = provider.open('soft0');
console.log(softVerbsDir());
context.close();`;
    const other = spawnSync('unshare', ['-p', '-f', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(other.status, other.stderr).toBe(0);
    const theirs = other.stdout.trim();
    expect(theirs).not.toBe(dir);
    // Its namespace is gone with it: so is its folder.
    if (theirs.includes('soft-verbs-')) rmSync(theirs, { recursive: true, force: true });
    expect(existsSync(path)).toBe(true);
  });

  it('fails to open another device name with ENODEV from ibv_open_device', () => {
    const error = (() => {
      try {
        createSoftProvider().open('mlx5_0');
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(VerbsError);
    expect(error).toMatchObject({ call: 'ibv_open_device', code: 'ENODEV', errnoText: 'No such device' });
  });
});

describe('soft RC traffic between two devices', () => {
  it('sends with gather lists into scattered receive buffers, completing on both sides', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const src = a.mr(16);
    src.buffer.set(Buffer.from('hello, verbs!!!!'));
    const dst = b.mr(32);
    b.qp.postRecv({ id: 7, sges: [sge(dst, 0, 4), sge(dst, 16, 16)] });
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(src, 0, 7), sge(src, 7, 9)] });
    await waitFor('both completions', () => a.sent.length === 1 && b.received.length === 1);
    expect(a.sent[0]).toEqual({ id: 1, status: 'SUCCESS', opcode: 'SEND', byteLen: 0, qpn: a.qp.qpn, vendorErr: 0 });
    expect(b.received[0]).toEqual({ id: 7, status: 'SUCCESS', opcode: 'RECV', byteLen: 16, qpn: b.qp.qpn, vendorErr: 0 });
    expect(Buffer.from(dst.buffer.subarray(0, 4)).toString()).toBe('hell');
    expect(Buffer.from(dst.buffer.subarray(16, 28)).toString()).toBe('o, verbs!!!!');
  });

  it('delivers many messages in order and completes them in order, both directions at once', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const n = 60;
    const slots = [a.mr(4 * n), b.mr(4 * n)];
    for (const [self, mr] of [
      [a, slots[0]!],
      [b, slots[1]!],
    ] as const) {
      for (let i = 0; i < n; i++) self.qp.postRecv({ id: i, sges: [sge(mr, 4 * i, 4)] });
    }
    const out = [a.mr(4 * n), b.mr(4 * n)];
    for (let i = 0; i < n; i++) {
      new DataView(out[0]!.buffer.buffer).setUint32(4 * i, i);
      new DataView(out[1]!.buffer.buffer).setUint32(4 * i, 1000 + i);
      a.qp.postSend({ id: i, opcode: 'SEND', sges: [sge(out[0]!, 4 * i, 4)] });
      b.qp.postSend({ id: i, opcode: 'SEND', sges: [sge(out[1]!, 4 * i, 4)] });
    }
    await waitFor(
      'all completions',
      () => a.received.length === n && b.received.length === n && a.sent.length === n && b.sent.length === n,
    );
    expect(a.sent.map((w) => w.id)).toEqual([...Array(n).keys()]);
    expect(b.received.map((w) => w.id)).toEqual([...Array(n).keys()]);
    const got = (mr: { buffer: Uint8Array }) => [...Array(n).keys()].map((i) => new DataView(mr.buffer.buffer).getUint32(4 * i));
    expect(got(slots[1]!)).toEqual([...Array(n).keys()]);
    expect(got(slots[0]!)).toEqual([...Array(n).keys()].map((i) => 1000 + i));
  });

  it('writes into and reads from a peer registration by rkey, without the peer posting anything', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const remote = b.mr(64);
    remote.buffer.set(Buffer.from('remote data'), 40);
    const local = a.mr(64);
    local.buffer.set(Buffer.from('written by a'));
    a.qp.postSend({ id: 1, opcode: 'RDMA_WRITE', sges: [sge(local, 0, 12)], remote: { addr: remote.addr + 8n, rkey: remote.rkey } });
    a.qp.postSend({ id: 2, opcode: 'RDMA_READ', sges: [sge(local, 32, 11)], remote: { addr: remote.addr + 40n, rkey: remote.rkey } });
    await waitFor('write and read', () => a.sent.length === 2);
    expect(a.sent).toEqual([
      { id: 1, status: 'SUCCESS', opcode: 'RDMA_WRITE', byteLen: 0, qpn: a.qp.qpn, vendorErr: 0 },
      { id: 2, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: 11, qpn: a.qp.qpn, vendorErr: 0 },
    ]);
    expect(Buffer.from(remote.buffer.subarray(8, 20)).toString()).toBe('written by a');
    expect(Buffer.from(local.buffer.subarray(32, 43)).toString()).toBe('remote data');
    expect(b.received).toEqual([]);
  });

  it('reports only failed unsignaled requests, like sq_sig_all = 0', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const remote = b.mr(8);
    const local = a.mr(8);
    a.qp.postSend({ id: 1, opcode: 'RDMA_WRITE', sges: [sge(local)], remote: { addr: remote.addr, rkey: remote.rkey }, signaled: false });
    a.qp.postSend({ id: 2, opcode: 'RDMA_WRITE', sges: [sge(local)], remote: { addr: remote.addr, rkey: remote.rkey } });
    await waitFor('the signaled completion', () => a.sent.length === 1);
    expect(a.sent.map((w) => w.id)).toEqual([2]);
  });

  it('connects two QPs of the same device (loopback)', async () => {
    const provider = createSoftProvider();
    const a = end(provider);
    const b = end(provider);
    connect(a, b);
    const mr = b.mr(8);
    b.qp.postRecv({ id: 1, sges: [sge(mr)] });
    const src = a.mr(8);
    src.buffer.fill(9);
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(src)] });
    await waitFor('the receive', () => b.received.length === 1);
    expect([...mr.buffer]).toEqual(Array(8).fill(9));
  });

  it('rejects a registration with remote write but not local write (EINVAL from ibv_reg_mr)', () => {
    const a = end(createSoftProvider());
    expect(() => a.mr(8, Access.REMOTE_WRITE)).toThrow(expect.objectContaining({ call: 'ibv_reg_mr', code: 'EINVAL' }));
  });
});
