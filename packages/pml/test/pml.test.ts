import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG, CTX_COLLECTIVE, setYieldInterval } from '../src/index.js';
import { fabric, payload } from './memory-fabric.js';

describe('PML over an in-memory fabric', () => {
  it('keeps one sender\'s messages in order even when the transport reorders fragments', async () => {
    const { pmls } = await fabric(2, [{ name: 'mix', reorder: true }]);
    const n = 2000;
    const sends = Array.from({ length: n }, (_, i) => pmls[0]!.isend(payload(i % 50, i), 1, 7));
    for (let i = 0; i < n; i++) {
      const m = await pmls[1]!.irecv(0, 7).wait();
      expect(Buffer.from(m.data).equals(Buffer.from(payload(i % 50, i)))).toBe(true);
    }
    await Promise.all(sends.map((s) => s.wait()));
  });

  it('matches by tag, with ANY_SOURCE / ANY_TAG, in arrival order, and never lets a probe overtake a posted receive', async () => {
    const { pmls } = await fabric(3, [{ name: 'm' }]);
    const [p0, p1, p2] = pmls as [typeof pmls[0], typeof pmls[0], typeof pmls[0]];
    const posted = p0.irecv(1, 5);
    await p1.isend(Buffer.from('tag5'), 0, 5).wait();
    await p1.isend(Buffer.from('tag6'), 0, 6).wait();
    await p2.isend(Buffer.from('from2'), 0, 6).wait();
    expect(Buffer.from((await posted.wait()).data).toString()).toBe('tag5');
    // A small send completes once copied, before it arrives: wait for both tag-6 messages.
    await p0.probe(1, 6);
    await p0.probe(2, 6);
    // The tag-5 message went to the posted receive: a probe for tag 5 finds nothing.
    expect(p0.iprobe(ANY_SOURCE, 5)).toBeUndefined();
    expect(p0.iprobe(ANY_SOURCE, ANY_TAG)).toEqual({ source: 1, tag: 6, size: 4 });
    const any = await p0.irecv(ANY_SOURCE, 6).wait();
    expect([any.source, any.tag]).toEqual([1, 6]);
    const last = await p0.irecv(ANY_SOURCE, ANY_TAG).wait();
    expect([last.source, Buffer.from(last.data).toString()]).toEqual([2, 'from2']);
  });

  it('blocks probe until a message comes, and keeps contexts apart', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    const probing = pmls[1]!.probe(0, 3);
    await pmls[0]!.isend(Buffer.from('coll'), 1, 3, CTX_COLLECTIVE).wait();
    await pmls[0]!.isend(Buffer.from('user'), 1, 3).wait();
    expect(await probing).toEqual({ source: 0, tag: 3, size: 4 });
    expect(Buffer.from((await pmls[1]!.irecv(0, 3).wait()).data).toString()).toBe('user');
    expect(Buffer.from((await pmls[1]!.irecv(0, 3, CTX_COLLECTIVE).wait()).data).toString()).toBe('coll');
  });

  it('sends zero-length messages and messages to self', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    await pmls[0]!.isend(new Uint8Array(0), 0, 1).wait();
    const m = await pmls[0]!.irecv(0, 1).wait();
    expect([m.data.length, m.source]).toEqual([0, 0]);
  });

  it('copies what it keeps out of the module\'s buffer: eager and rendezvous, posted before or after arrival, in order', async () => {
    const { pmls } = await fabric(2, [{ name: 'reuse', eagerLimit: 4096, maxSendSize: 8192, reuseBuffer: true }]);
    const sizes = [0, 5, 4000, 4085, 4096, 20_000, 100_000];
    const sends = sizes.map((n, i) => pmls[0]!.isend(payload(n, i), 1, 4));
    // Half are posted before their message arrives, half after it waited as unexpected.
    const early = sizes.slice(0, 3).map(() => pmls[1]!.irecv(0, 4));
    await Promise.all(sends.map((s) => s.wait()).slice(0, 3));
    while (pmls[1]!.pending().matching[0]!.unexpected === 0) await new Promise((r) => setTimeout(r, 1));
    const late = sizes.slice(3).map(() => pmls[1]!.irecv(0, 4));
    const got = await Promise.all([...early, ...late].map((r) => r.wait()));
    got.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(payload(sizes[i]!, i))), `message ${i}`).toBe(true));
    await Promise.all(sends.map((s) => s.wait()));
  });

  it('receives into the caller\'s buffer when given one (eager and rendezvous), and fails a message that does not fit', async () => {
    const { pmls } = await fabric(2, [{ name: 'reuse', eagerLimit: 4096, maxSendSize: 8192, reuseBuffer: true }]);
    const into = Buffer.alloc(64 * 1024, 0xee);
    for (const n of [0, 100, 30_000]) {
      const recv = pmls[1]!.irecv(0, 5, undefined, into);
      await pmls[0]!.isend(payload(n, n), 1, 5).wait();
      const m = await recv.wait();
      expect(m.data.buffer).toBe(into.buffer);
      expect(m.data.byteOffset).toBe(into.byteOffset);
      expect(Buffer.from(m.data).equals(Buffer.from(payload(n, n)))).toBe(true);
    }
    // Too big, eager and rendezvous: consumed and failed; the sender completes, the next one arrives.
    for (const n of [200, 20_000]) {
      const small = Buffer.alloc(100);
      const recv = pmls[1]!.irecv(0, 6, undefined, small);
      await pmls[0]!.isend(payload(n, 1), 1, 6).wait();
      await expect(recv.wait()).rejects.toThrow(/MPI_ERR_TRUNCATE/);
      const next = pmls[1]!.irecv(0, 6, undefined, into);
      await pmls[0]!.isend(Buffer.from('next'), 1, 6).wait();
      expect(Buffer.from((await next.wait()).data).toString()).toBe('next');
    }
  });

  it('uses rendezvous for large messages, striping the rest over every send module by bandwidth', async () => {
    const { pmls, modules } = await fabric(2, [
      { name: 'fast', bandwidth: 3000, maxSendSize: 8192 },
      { name: 'slow', bandwidth: 1000, maxSendSize: 8192, reorder: true },
    ]);
    const big = payload(3 * 1024 * 1024 + 17, 3);
    const recv = pmls[1]!.irecv(0, 9);
    const send = pmls[0]!.isend(big, 1, 9);
    // A small message queued behind the large one still arrives.
    const small = pmls[0]!.isend(Buffer.from('after'), 1, 10);
    const got = await recv.wait();
    await Promise.all([send.wait(), small.wait()]);
    expect(Buffer.from(got.data).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from((await pmls[1]!.irecv(0, 10).wait()).data).toString()).toBe('after');
    const fast = modules[0]![0]!.sent;
    const slow = modules[1]![0]!.sent;
    expect(fast + slow).toBeGreaterThan(big.length / 8192);
    // Weighted 3:1 by bandwidth.
    expect(fast / slow).toBeGreaterThan(2.5);
    expect(fast / slow).toBeLessThan(3.5);
  });

  it('waits for writable when modules push back, losing nothing', async () => {
    const { pmls, modules } = await fabric(2, [
      { name: 'a', maxSendSize: 4096, highWater: 2 },
      { name: 'b', maxSendSize: 4096, highWater: 2, reorder: true },
    ]);
    const messages = Array.from({ length: 40 }, (_, i) => payload(i % 2 ? 50_000 : 100, i));
    const sends = messages.map((m) => pmls[0]!.isend(m, 1, 4));
    for (let i = 0; i < messages.length; i++) {
      const got = await pmls[1]!.irecv(0, 4).wait();
      expect(Buffer.from(got.data).equals(Buffer.from(messages[i]!))).toBe(true);
    }
    await Promise.all(sends.map((s) => s.wait()));
    expect(modules[0]![0]!.sent).toBeGreaterThan(0);
    expect(modules[1]![0]!.sent).toBeGreaterThan(0);
  });

  it('delivers an unexpected rendezvous message once the receive is posted', async () => {
    const { pmls } = await fabric(2, [{ name: 'm', eagerLimit: 1024, maxSendSize: 4096 }]);
    const data = payload(100_000, 1);
    const send = pmls[0]!.isend(data, 1, 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(send.completed).toBe(false);
    expect(pmls[1]!.iprobe(0, 2)).toEqual({ source: 0, tag: 2, size: 100_000 });
    const got = await pmls[1]!.irecv(0, 2).wait();
    await send.wait();
    expect(Buffer.from(got.data).equals(Buffer.from(data))).toBe(true);
  });

  it('rejects bad ranks, tags and data with clear errors', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    expect(() => pmls[0]!.isend(Buffer.from('x'), 2, 0)).toThrow(/destination rank must be an integer from 0 to 1, got 2/);
    expect(() => pmls[0]!.isend(Buffer.from('x'), 1, -3)).toThrow(/tag must be an integer/);
    expect(() => pmls[0]!.isend('x' as never, 1, 0)).toThrow(/Uint8Array/);
    expect(() => pmls[0]!.irecv(7)).toThrow(/source rank/);
  });
});

describe('busy polling (pml_busy_poll)', () => {
  // wait() polls only while the loop is not starved (the fair-progress rule): not this test's subject.
  beforeEach(() => setYieldInterval(60_000));
  afterEach(() => setYieldInterval(2));
  it('completes a receive inside wait() when every module to its peer can be polled', async () => {
    const { pmls } = await fabric(2, [{ name: 'polled', polled: true }], { busyPoll: true });
    const recv = pmls[1]!.irecv(0, 7);
    void pmls[0]!.isend(Buffer.from('now'), 1, 7);
    const waiting = recv.wait();
    // Delivered by the poll inside wait(), before it returned: no turn of the loop, no microtask.
    expect(recv.completed).toBe(true);
    expect(Buffer.from((await waiting).data).toString()).toBe('now');
  });

  it('leaves the receive to the event loop without busy polling, once stopped, or when a module to the peer cannot be polled', async () => {
    const cases = [
      { spec: { name: 'polled', polled: true }, options: {} },
      { spec: { name: 'polled', polled: true }, options: { busyPoll: true }, stopped: true },
      { spec: { name: 'plain' }, options: { busyPoll: true } },
    ];
    for (const { spec, options, stopped } of cases) {
      const { pmls } = await fabric(2, [spec], options);
      if (stopped) {
        pmls[1]!.stopBusyPolling('a test');
        expect(pmls[1]!.busyPolling).toBe(false);
      }
      const recv = pmls[1]!.irecv(0, 7);
      void pmls[0]!.isend(Buffer.from('later'), 1, 7);
      const waiting = recv.wait();
      expect(recv.completed, spec.name).toBe(false);
      expect(Buffer.from((await waiting).data).toString()).toBe('later');
    }
  });

  it('does not poll in wait() on a send: a window of sends, each waited on as issued, goes out at once', async () => {
    const { pmls, modules } = await fabric(2, [{ name: 'polled', polled: true }], { busyPoll: true });
    // Above the size kept as a copy: each send completes only with the receiver's acknowledgement.
    const sends = Array.from({ length: 8 }, (_, i) => pmls[0]!.isend(payload(20_000, i), 1, 3).wait());
    expect(modules[0]![0]!.progressCalls).toBe(0);
    const got = await Promise.all(sends.map(() => pmls[1]!.irecv(0, 3).wait().then((m) => m.data.length)));
    expect(got).toEqual(Array(8).fill(20_000));
    await Promise.all(sends);
  });

  it('returns from wait() when nothing comes, and the receive still completes later', async () => {
    const { pmls } = await fabric(2, [{ name: 'polled', polled: true }], { busyPoll: true });
    const recv = pmls[1]!.irecv(0, 9);
    const waiting = recv.wait();
    expect(recv.completed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await pmls[0]!.isend(Buffer.from('late'), 1, 9).wait();
    expect(Buffer.from((await waiting).data).toString()).toBe('late');
  });
});

describe('state() for ctl status', () => {
  it('counts a backlog of 200,000 unexpected messages (more than a call takes as arguments)', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }], { failover: false });
    const empty = Buffer.alloc(0);
    const sends = [];
    for (let i = 0; i < 200_000; i++) sends.push(pmls[0]!.isend(empty, 1, 9).wait());
    await Promise.all(sends);
    await expect.poll(() => pmls[1]!.pending().matching.reduce((n, m) => n + m.unexpected, 0), { timeout: 20_000 }).toBe(200_000);
    const state = pmls[1]!.state();
    expect(state.peers).toEqual([expect.objectContaining({ rank: 0, unexpectedMessages: 200_000, unexpectedBytes: 0 })]);
    expect(state.unexpected.length).toBeGreaterThan(0);
  }, 60_000);
});
