import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BtlEndpoint } from '@switchyard/btl-interface';
import { addAll, fakeAcceptor, handleCounts, RawPeer, sendAndWait, startJob, startRank, stopAll, until, type Rank } from './helpers.js';

let job: Rank[] = [];
afterEach(async () => {
  await stopAll(job);
  job = [];
});

describe('lifecycle and failures', () => {
  it('finalize closes listeners, sockets and timers: no handle of the module remains', async () => {
    // A listener that accepts and never speaks: our call to it stays in its handshake.
    const mute = createServer((s) => muted.push(s));
    const muted: Socket[] = [];
    await new Promise<void>((resolve) => mute.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const mutePort = (mute.address() as AddressInfo).port;
    const before = handleCounts();
    const ranks: Rank[] = [];
    for (let r = 0; r < 3; r++) ranks.push(await startRank(r, 4, { settings: { handshake_timeout: 10_000 } }));
    for (const r of ranks) await addAll(r, ranks);
    const muteCard = {
      hostname: 'testhost',
      maxSendSize: 0,
      addresses: [{ address: '127.0.0.1', family: 'IPv4', port: mutePort, cidr: '127.0.0.1/8' }],
    };
    const [toMute] = await ranks[2]!.module.addProcs([{ rank: 3, hostname: 'testhost', local: true, cards: [muteCard] }]);
    // Traffic on every pair, a caller stuck in its handshake, and a call of ours under way.
    for (const r of ranks) for (const p of ranks) if (p !== r) await sendAndWait(r, p.rank, 0x80, [Buffer.alloc(100)]);
    const stuck = new RawPeer(ranks[0]!.card.addresses[0]!.port);
    await until('the stuck caller to be accepted', () => ranks[0]!.module.connections().length === 3);
    let pendingDone: Error | undefined;
    ranks[2]!.module.send(toMute!, 0x80, [Buffer.alloc(10)], (e) => (pendingDone = e));
    await until('our call to be accepted by the mute listener', () => muted.length === 1);
    expect(ranks[2]!.module.peerState(toMute!)!.state).toBe('connecting');
    const during = handleCounts();
    expect(during.TCPServerWrap ?? 0).toBeGreaterThan(before.TCPServerWrap ?? 0);
    expect(during.TCPSocketWrap ?? 0).toBeGreaterThan(before.TCPSocketWrap ?? 0);
    expect(during.Timeout ?? 0).toBeGreaterThan(before.Timeout ?? 0); // handshake timers
    await stopAll(ranks);
    expect(pendingDone?.message).toMatch(/finalized/);
    await stuck.closedPromise;
    // The test's own sockets go first: only the module's handles are under test.
    await Promise.all(muted.map((s) => new Promise((resolve) => (s.destroyed ? resolve(null) : s.once('close', resolve).destroy()))));
    const after = handleCounts();
    expect(after.TCPServerWrap).toBe(before.TCPServerWrap);
    expect(after.TCPSocketWrap ?? 0).toBe(before.TCPSocketWrap ?? 0);
    // The runner's own timers come and go; none of ours may stay.
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    for (const r of ranks) expect(r.module.connections()).toEqual([]);
    await new Promise<void>((resolve) => mute.close(() => resolve()));
    // A finalized module refuses work instead of throwing.
    const late = await new Promise<Error | undefined>((resolve) =>
      ranks[0]!.module.send(ranks[0]!.ep(1), 0x80, [Buffer.alloc(1)], resolve),
    );
    expect(late?.message).toMatch(/module is finalized/);
  });

  it('reports a peer that disappears (connection reset) as an endpoint error, and fails the pending sends with it', async () => {
    const peer = await fakeAcceptor(1, 'accept-and-stall');
    try {
      const a = await startRank(0, 2);
      job = [a];
      const [ep] = await a.module.addProcs([{ rank: 1, hostname: 'testhost', local: true, cards: [peer.card] }]);
      // The peer stops reading. Send until the kernel's socket buffers (tens of MiB on some
      // hosts) are full and fragments stay pending in the module.
      const results: Array<Error | undefined> = [];
      const chunk = Buffer.alloc(128 * 1024, 7);
      let sent = 0;
      for (let round = 0; round < 200 && (a.module.peerState(ep!)?.pending ?? 0) < 32; round++) {
        for (let i = 0; i < 64; i++, sent++) a.module.send(ep!, 0x40, [chunk], (e) => results.push(e));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(a.module.peerState(ep!)!.pending).toBeGreaterThanOrEqual(32);
      expect(peer.sockets).toHaveLength(1);
      peer.sockets[0]!.resetAndDestroy();
      await until('every completion', () => results.length === sent);
      const failed = results.filter((e) => e !== undefined);
      expect(failed.length).toBeGreaterThan(0);
      expect(results.slice(results.length - failed.length)).toEqual(failed); // the successes come first, in order
      expect(failed[0]!.message).toMatch(/ECONNRESET|EPIPE|closed/);
      expect(a.host.errors).toHaveLength(1);
      expect(a.host.errors[0]).toMatchObject({ module: a.module, endpoint: ep, severity: 'endpoint', error: failed[0] });
      expect(a.module.peerState(ep!)).toMatchObject({ state: 'idle', queuedBytes: 0, pending: 0 });
    } finally {
      await peer.close();
    }
  });

  it('reports a peer whose process is gone: the next send fails with an endpoint error', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    expect(await sendAndWait(a, 1, 0x80, [Buffer.from('x')])).toBeUndefined();
    // An orderly departure (CLOSE) with nothing pending is not an error by itself...
    await b.module.finalize();
    await until('the close to be seen', () => a.host.logged(/rank 1 closed its connection/));
    expect(a.host.errors).toEqual([]);
    // ...but sending to it is: nobody listens any more.
    const err = await sendAndWait(a, 1, 0x80, [Buffer.from('anyone?')]);
    expect(err?.message).toMatch(/cannot connect to rank 1 .*ECONNREFUSED/);
    expect(a.host.errors).toMatchObject([{ severity: 'endpoint', endpoint: { rank: 1 }, error: err }]);
  });

  it('treats a connection that ends without CLOSE as a lost peer', async () => {
    job = [await startRank(0, 3), await startRank(1, 3)];
    for (const r of job) await addAll(r, job);
    const a = job[0]!;
    await a.module.addProcs([{ rank: 2, hostname: 'testhost', local: true, cards: [a.card] }]);
    const r = new RawPeer(a.card.addresses[0]!.port);
    const { FrameType } = await import('../src/index.js');
    expect(await r.authenticate(2, 0)).toBe(FrameType.ACCEPT);
    r.socket.end();
    await until('the error', () => a.host.errors.length === 1);
    expect(a.host.errors[0]).toMatchObject({ severity: 'endpoint', endpoint: { rank: 2 } });
    expect(a.host.errors[0]!.error.message).toMatch(/connection to rank 2 closed unexpectedly/);
  });

  it('flush resolves only after every earlier send completed', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    let completed = 0;
    for (let i = 0; i < 200; i++) a.module.send(a.ep(1), 0x40, [Buffer.alloc(32 * 1024)], () => completed++);
    expect(completed).toBe(0);
    await a.module.flush(a.ep(1));
    expect(completed).toBe(200);
    for (let i = 0; i < 10; i++) b.module.send(b.ep(0), 0x40, [Buffer.alloc(10)], () => completed++);
    await b.module.flush();
    expect(completed).toBe(210);
    await a.module.flush(); // nothing pending: resolves at once
  });

  it('delProcs closes the peer connection in order; sends to a deleted endpoint fail', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    expect(await sendAndWait(a, 1, 0x80, [Buffer.from('x')])).toBeUndefined();
    await until('b connected', () => b.module.connections().length === 1);
    const ep: BtlEndpoint = a.ep(1);
    await a.module.delProcs([ep]);
    expect(a.module.connections()).toEqual([]);
    await until('b to see the close', () => b.module.connections().length === 0);
    expect(a.host.errors).toEqual([]);
    expect(b.host.errors).toEqual([]);
    const err = await new Promise<Error | undefined>((resolve) => a.module.send(ep, 0x80, [Buffer.from('y')], resolve));
    expect(err?.message).toMatch(/not one of this module's/);
    // Adding the peer again gives a fresh endpoint that connects anew.
    await addAll(a, job);
    expect(a.ep(1)).not.toBe(ep);
    expect(await sendAndWait(a, 1, 0x80, [Buffer.from('again')])).toBeUndefined();
    await until('delivery', () => b.host.received.length === 2);
    expect(b.host.received.map((m) => m.data.toString())).toEqual(['x', 'again']);
  });

  it('fails pending sends with an endpoint error when the peer cannot be reached at all', async () => {
    const a = await startRank(0, 2);
    job = [a];
    // A card whose port nobody listens on (a freshly closed listener).
    const dead = await fakeAcceptor(1, 'accept-and-stall');
    await dead.close();
    const [ep] = await a.module.addProcs([{ rank: 1, hostname: 'testhost', local: true, cards: [dead.card] }]);
    const results = await Promise.all(
      [1, 2, 3].map((i) => new Promise<Error | undefined>((resolve) => a.module.send(ep!, 0x40, [Buffer.alloc(i)], resolve))),
    );
    expect(results.every((e) => e instanceof Error && /ECONNREFUSED/.test(e.message))).toBe(true);
    expect(a.host.errors).toHaveLength(1);
    expect(a.host.errors[0]).toMatchObject({ severity: 'endpoint', endpoint: ep });
  });
});
