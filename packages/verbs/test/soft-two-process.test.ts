import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPathForGid } from '../src/soft/address.js';
import { createSoftProvider } from '../src/soft/provider.js';
import { softVerbsDir } from '../src/soft/runtime-dir.js';
import { buildPackage, killJsonChildren, startJsonChild, type JsonChild as Peer } from './helpers/json-child.js';
import { openEnd, sge, waitFor, type End } from './helpers/verbs-end.js';

beforeAll(() => buildPackage(), 60_000);
afterAll(killJsonChildren);

function startPeer(mode = 'echo'): Peer {
  return startJsonChild('soft-peer.mjs', [mode]);
}

/** Connects our end to the peer process: we learn its card from stdout, it learns ours on stdin. */
async function connectTo(peer: Peer, self: End, attrs = {}): Promise<Record<string, unknown>> {
  const card = await peer.next('card');
  peer.send({ type: 'connect', gid: self.ctx.queryPort(1).gid, qpn: self.qp.qpn });
  self.qp.modify('INIT');
  self.qp.modify('RTR', { remoteQpn: card.qpn as number, dest: { lid: 0, gid: card.gid as string } });
  self.qp.modify('RTS', attrs);
  await peer.next('connected');
  return card;
}

describe('soft verbs between two processes', () => {
  it('sends, RDMA-writes and RDMA-reads across processes, then both sides close cleanly', async () => {
    const peer = startPeer();
    const self = openEnd(createSoftProvider());
    try {
      const card = await connectTo(peer, self);
      const mr = self.mr(4096);
      for (let i = 0; i < 8; i++) self.qp.postRecv({ id: i, sges: [sge(mr, 2048 + i * 64, 64)] });
      for (let i = 0; i < 8; i++) {
        mr.buffer.set(Buffer.from(`message ${i}`), i * 64);
        self.qp.postSend({ id: i, opcode: 'SEND', sges: [sge(mr, i * 64, 9)] });
      }
      await waitFor('the echoes', () => self.received.length === 8, 10_000);
      expect(self.received.map((w) => [w.id, w.status, w.byteLen])).toEqual([...Array(8).keys()].map((i) => [i, 'SUCCESS', 9]));
      for (let i = 0; i < 8; i++) expect(Buffer.from(mr.buffer.subarray(2048 + i * 64, 2048 + i * 64 + 9)).toString()).toBe(`message ${i}`);

      const remote = { addr: BigInt(card.addr as string), rkey: card.rkey as number };
      mr.buffer.set(Buffer.from('written from the test process'), 1024);
      self.qp.postSend({ id: 100, opcode: 'RDMA_WRITE', sges: [sge(mr, 1024, 29)], remote: { ...remote, addr: remote.addr + 1500n } });
      self.qp.postSend({ id: 101, opcode: 'RDMA_READ', sges: [sge(mr, 1536, 29)], remote: { ...remote, addr: remote.addr + 3000n } });
      await waitFor('the write and the read', () => self.sent.filter((w) => w.id >= 100).length === 2, 10_000);
      expect(self.sent.filter((w) => w.id >= 100).map((w) => w.status)).toEqual(['SUCCESS', 'SUCCESS']);
      expect(Buffer.from(mr.buffer.subarray(1536, 1565)).toString()).toBe('pattern from the peer process');
      peer.send({ type: 'peek', offset: 1500, length: 29 });
      expect((await peer.next('bytes')).text).toBe('written from the test process');

      peer.send({ type: 'exit' });
      expect(await peer.exited).toEqual({ code: 0, signal: null });
    } finally {
      self.close();
    }
  });

  it('moves large RDMA reads and writes between the processes by CMA over the shared-memory link', async () => {
    const peer = startPeer();
    const provider = createSoftProvider();
    const self = openEnd(provider);
    try {
      const card = await connectTo(peer, self);
      const big = card.big as { addr: string; rkey: number };
      const remote = { addr: BigInt(big.addr), rkey: big.rkey };
      const size = 256 * 1024;
      const mr = self.mr(size);
      self.qp.postSend({ id: 1, opcode: 'RDMA_READ', sges: [sge(mr)], remote });
      await waitFor('the read', () => self.sent.length === 1, 10_000);
      expect(self.sent[0]).toMatchObject({ id: 1, status: 'SUCCESS', byteLen: size });
      expect(mr.buffer.every((b, i) => b === ((i * 7) & 0xff))).toBe(true);
      expect(provider.dataPath()).toMatchObject({ wire: 'shm', links: 1 });

      const written = randomBytes(64 * 1024);
      mr.buffer.set(written);
      const at = { ...remote, addr: remote.addr + 4096n };
      self.qp.postSend({ id: 2, opcode: 'RDMA_WRITE', sges: [sge(mr, 0, written.length)], remote: at });
      await waitFor('the write', () => self.sent.length === 2, 10_000);
      expect(self.sent[1]).toMatchObject({ id: 2, status: 'SUCCESS' });
      peer.send({ type: 'digest', offset: 4096, length: written.length });
      expect((await peer.next('digest')).sha256).toBe(createHash('sha256').update(written).digest('hex'));
      // With the link up and nothing outstanding, the write was executed here, as an HCA would, without the peer's CPU.
      expect(provider.dataPath().directRdma).toBe(1);
    } finally {
      self.close();
      peer.send({ type: 'exit' });
      await peer.exited;
    }
  });

  it('a peer killed while the shared-memory link is up is a lost peer too: RETRY_EXC_ERR', async () => {
    const peer = startPeer();
    const self = openEnd(createSoftProvider());
    try {
      const card = await connectTo(peer, self, { timeout: 8, retryCnt: 2 });
      const big = card.big as { addr: string; rkey: number };
      const mr = self.mr(16 * 1024);
      self.qp.postSend({ id: 1, opcode: 'RDMA_READ', sges: [sge(mr)], remote: { addr: BigInt(big.addr), rkey: big.rkey } });
      await waitFor('the read', () => self.sent.length === 1, 10_000);
      peer.child.kill('SIGKILL');
      await peer.exited;
      self.qp.postSend({ id: 2, opcode: 'RDMA_READ', sges: [sge(mr)], remote: { addr: BigInt(big.addr), rkey: big.rkey } });
      await waitFor('the failure', () => self.sent.length === 2, 10_000);
      expect(self.sent[1]).toMatchObject({ id: 2, status: 'RETRY_EXC_ERR' });
      expect(self.qp.state).toBe('ERROR');
    } finally {
      self.close();
    }
  });

  it('a killed peer process is a lost peer: outstanding work ends in RETRY_EXC_ERR, and its socket is swept later', async () => {
    const peer = startPeer();
    const self = openEnd(createSoftProvider());
    try {
      const card = await connectTo(peer, self, { timeout: 8, retryCnt: 2 });
      peer.child.kill('SIGKILL');
      await peer.exited;
      const path = socketPathForGid(softVerbsDir(), card.gid as string);
      expect(existsSync(path)).toBe(true); // SIGKILL: nobody unlinked it
      const mr = self.mr(8);
      self.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(mr)] });
      await waitFor('the failure', () => self.sent.length === 1, 10_000);
      expect(self.sent[0]).toMatchObject({ id: 1, status: 'RETRY_EXC_ERR' });
      expect(self.qp.state).toBe('ERROR');
      // Opening another soft device sweeps sockets of dead processes.
      createSoftProvider().open('soft0').close();
      expect(existsSync(path)).toBe(false);
    } finally {
      self.close();
    }
  });

  it('a process whose completion queues are unref()ed exits on its own', async () => {
    const peer = startPeer('unref');
    await peer.next('ready');
    expect(await peer.exited).toEqual({ code: 0, signal: null });
  });
});
