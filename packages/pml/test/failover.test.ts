import { describe, expect, it } from 'vitest';
import { PeerLostError } from '@switchyard/core-bml';
import { fabric, payload, stream } from './memory-fabric.js';
import { SendFailedError } from '../src/index.js';

// Failover in the PML: fragments are kept until the peer acknowledges them and sent again over
// the links that remain when theirs fails; the receiver drops what it already has. The fabric's
// `cut` loses what is in flight on a link and reports it failed, as a reset connection does.
const FAST = { name: 'fast', exclusivity: 1024, latency: 1, bandwidth: 10_000, maxSendSize: 8192, reorder: true };
const SLOW = { name: 'slow', exclusivity: 100, latency: 100, bandwidth: 1000, maxSendSize: 4096, highWater: 8 };
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('failover', () => {
  it.each([
    ['send', FAST],
    ['sendi', { ...FAST, sendi: true }],
  ])('moves to the remaining transport when one fails mid-stream: every message once, in order, eager and rendezvous (%s)', async (
    how,
    fast,
  ) => {
    const { bmls, pmls, modules } = await fabric(2, [fast, SLOW]);
    const a = stream(pmls, 0, 1);
    const b = stream(pmls, 1, 0);
    await tick(20);
    modules[0]![0]!.cut(1);
    expect(bmls[0]!.endpoints[1]!.send.map((l) => l.module.component)).toEqual(['slow']);
    expect(bmls[1]!.endpoints[0]!.send.map((l) => l.module.component)).toEqual(['slow']);
    expect(bmls[0]!.endpoints[1]!.btls.find((l) => l.module.component === 'fast')!.failure).toMatchObject({ severity: 'endpoint' });
    await tick(20);
    const [ra, rb] = [await a.end(), await b.end()];
    expect([ra.bad, rb.bad]).toEqual([0, 0]);
    expect([ra.received, rb.received]).toEqual([ra.sent, rb.sent]);
    expect(pmls[0]!.pending()).toMatchObject({ replaying: 0 });
    // Small messages went by sendi, when the transport offers it, and those it lost came again from the kept copies.
    expect(modules[0]![0]!.sentImmediately > 0).toBe(how === 'sendi');
  });

  it('brings a failed link back when it answers a probe, and traffic returns to it', async () => {
    const { bmls, pmls, modules } = await fabric(2, [FAST, SLOW]);
    for (const bml of bmls) bml.configureFailover({ recoveryIntervalMs: 30, peerTimeoutMs: 5_000 });
    const a = stream(pmls, 0, 1);
    await tick(10);
    modules[0]![0]!.cut(1);
    await tick(10);
    modules[0]![0]!.repair(1);
    const deadline = Date.now() + 5_000;
    while (bmls[0]!.endpoints[1]!.send[0]?.module.component !== 'fast' && Date.now() < deadline) await tick();
    expect(bmls[0]!.endpoints[1]!.send.map((l) => l.module.component)).toEqual(['fast']);
    expect(bmls[1]!.endpoints[0]!.send.map((l) => l.module.component)).toEqual(['fast']);
    const before = modules[0]![0]!.sent;
    await tick(20);
    expect(modules[0]![0]!.sent).toBeGreaterThan(before);
    const r = await a.end();
    expect(r.bad).toBe(0);
    expect(r.received).toBe(r.sent);
  });

  it('waits for the only transport to come back (a reconnect) and loses nothing', async () => {
    const ONLY = { name: 'only', eagerLimit: 4096, maxSendSize: 8192 };
    const { bmls, pmls, modules } = await fabric(2, [ONLY]);
    for (const bml of bmls) bml.configureFailover({ recoveryIntervalMs: 0, peerTimeoutMs: 5_000 });
    const a = stream(pmls, 0, 1);
    await tick(10);
    modules[0]![0]!.cut(1);
    expect(bmls[0]!.endpoints[1]!.reachable()).toBe(false);
    await tick(50);
    modules[0]![0]!.repair(1);
    const r = await a.end();
    expect(r.bad).toBe(0);
    expect(r.received).toBe(r.sent);
  });

  it(
    'cuts fragments that no longer fit: large eager messages and rendezvous parts sent again over a ' +
      'transport with smaller fragments',
    async () => {
      const BIG = { name: 'big', exclusivity: 1024, eagerLimit: 60_000, maxSendSize: 65_536 };
      const SMALL = { name: 'small', exclusivity: 100, eagerLimit: 2048, maxSendSize: 4096 };
      const { pmls, modules } = await fabric(2, [BIG, SMALL]);
      const sizes = [50_000, 200_000, 100, 50_000, 300_000];
      const sends = sizes.map((n, i) => pmls[0]!.isend(payload(n, i), 1, 4));
      // Cut before anything was delivered: every fragment is in flight on the big transport.
      modules[0]![0]!.cut(1);
      const got = await Promise.all(sizes.map(() => pmls[1]!.irecv(0, 4).wait()));
      await Promise.all(sends.map((s) => s.wait()));
      got.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(payload(sizes[i]!, i))), `message ${i}`).toBe(true));
    });

  it('fails what waits on a peer no transport reaches any more, naming the peer and the transports tried', async () => {
    const ONLY = { name: 'only', eagerLimit: 4096, maxSendSize: 8192 };
    const { bmls, pmls, modules } = await fabric(2, [ONLY]);
    for (const bml of bmls) bml.configureFailover({ recoveryIntervalMs: 0, peerTimeoutMs: 100 });
    const lost: PeerLostError[] = [];
    bmls[0]!.hooks.peerLost.tap('test', (e) => lost.push(e));
    const send = pmls[0]!.isend(payload(100_000, 1), 1, 5);
    const recv = pmls[0]!.irecv(1, 6);
    modules[0]![0]!.cut(1);
    await expect(send.wait()).rejects.toMatchObject({ code: 'ERR_SWITCHYARD_PEER_UNREACHABLE', peer: 1 });
    await expect(recv.wait()).rejects.toThrow(/rank 1 cannot be reached any more \(only:0: only:0: link to rank 1 cut\)/);
    expect(lost).toHaveLength(1);
    // Later operations with the lost peer fail at once.
    await expect(pmls[0]!.isend(payload(10, 1), 1, 5).wait()).rejects.toBeInstanceOf(PeerLostError);
  });

  it('says the lost peer was stopped, with a typed cause, when the job can tell (its launcher sees the process stopped)', async () => {
    const ONLY = { name: 'only', eagerLimit: 4096, maxSendSize: 8192 };
    const { bmls, pmls, modules } = await fabric(2, [ONLY]);
    const stopped = { pid: 4242, note: 'its process (pid 4242) is stopped (SIGSTOP, Ctrl-Z or a debugger)' };
    bmls[0]!.configureFailover({ recoveryIntervalMs: 0, peerTimeoutMs: 100, peerActivity: () => Promise.resolve({ stopped }) });
    const recv = pmls[0]!.irecv(1, 6);
    modules[0]![0]!.cut(1);
    const error = await recv.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerLostError);
    const tried = 'only:0: only:0: link to rank 1 cut';
    expect((error as PeerLostError).message).toBe(`rank 1 cannot be reached any more: ${stopped.note} (${tried})`);
    expect((error as PeerLostError).cause).toEqual({ code: 'ERR_SWITCHYARD_PEER_STOPPED', pid: 4242, message: stopped.note });
  });

  it('sends nothing again and keeps nothing with failover off', async () => {
    const { pmls } = await fabric(2, [FAST], { failover: false });
    await Promise.all([pmls[0]!.isend(payload(30_000, 1), 1, 1).wait(), pmls[1]!.irecv(0, 1).wait()]);
    expect(pmls[0]!.pending()).toMatchObject({ unacknowledged: 0 });
  });

  it('with failover off, a send its link loses fails with a typed error naming the peer and the transport', async () => {
    const { pmls, modules } = await fabric(2, [{ ...FAST, reorder: false }], { failover: false });
    const send = pmls[0]!.isend(payload(20_000, 1), 1, 1);
    modules[0]![0]!.cut(1);
    const error = await send.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailedError);
    expect(error).toMatchObject({ code: 'ERR_SWITCHYARD_SEND_FAILED', peer: 1, btl: 'fast:0' });
    expect((error as Error).message).toMatch(/^sending to rank 1 over fast:0 failed: .*cut \(pml_failover is off: nothing is sent again\)$/);
  });

  it('sends by send, once, what a sendi that throws did not take, and asks that module no more', async () => {
    const { pmls, modules } = await fabric(2, [{ ...FAST, reorder: false, sendi: 'throws' }]);
    const got = Promise.all([0, 1, 2].map(() => pmls[1]!.irecv(0, 1).wait()));
    for (const i of [0, 1, 2]) await pmls[0]!.isend(payload(50, i), 1, 1).wait();
    const messages = await got;
    messages.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(payload(50, i)))).toBe(true));
    expect(modules[0]![0]!.sent).toBe(3);
    expect(modules[0]![0]!.sendiCalls).toBe(1);
  });

  it('keeps a copy of what sendi sent until the peer acknowledges it, and none with failover off', async () => {
    for (const failover of [true, false]) {
      const { pmls, modules } = await fabric(2, [{ ...FAST, reorder: false, sendi: true }], { failover });
      const data = payload(100, 3);
      const send = pmls[0]!.isend(data, 1, 1);
      // Done at once: the module copied it, and the caller may reuse its buffer.
      expect(send.test()).toBe(true);
      data.fill(0);
      expect(modules[0]![0]!.sentImmediately).toBe(1);
      expect(pmls[0]!.pending()).toMatchObject({ unacknowledged: failover ? 1 : 0 });
      const m = await pmls[1]!.irecv(0, 1).wait();
      expect(Buffer.from(m.data).equals(Buffer.from(payload(100, 3)))).toBe(true);
    }
  });
});

describe('request ids', () => {
  it('wrap at 32 bits: rendezvous ACKs still find their request after the counter passes 2^32', async () => {
    const { pmls } = await fabric(2, [FAST], { firstRequestId: 2 ** 32 - 3 });
    for (let round = 0; round < 4; round++) {
      const sends = [0, 1, 2].map((i) => pmls[0]!.isend(payload(20_000, round * 10 + i), 1, 7));
      const got = await Promise.all([0, 1, 2].map(() => pmls[1]!.irecv(0, 7).wait()));
      await Promise.all(sends.map((s) => s.wait()));
      got.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(payload(20_000, round * 10 + i)))).toBe(true));
    }
  });
});
