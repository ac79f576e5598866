import { afterEach, describe, expect, it } from 'vitest';
import { isLoopback, type ConnectionInfo } from '../src/index.js';
import { sendAndWait, seqFrame, startJob, stopAll, until, type Rank } from './helpers.js';

let job: Rank[] = [];
afterEach(async () => {
  await stopAll(job);
  job = [];
});

function inUse(rank: Rank, peer: number): ConnectionInfo[] {
  return rank.module.connections().filter((c) => c.rank === peer && c.inUse);
}

describe('exchange', () => {
  it('carries fragments both ways between 2 ranks, over loopback only', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    expect(await sendAndWait(a, 1, 0x41, [Buffer.from('hello '), Buffer.from('from 0')])).toBeUndefined();
    expect(await sendAndWait(b, 0, 0x42, [Buffer.from('hi from 1')])).toBeUndefined();
    await until('both fragments', () => a.host.received.length === 1 && b.host.received.length === 1);
    expect(b.host.received[0]).toMatchObject({ from: 0, tag: 0x41 });
    expect(b.host.received[0]!.data.toString()).toBe('hello from 0');
    expect(a.host.received[0]!.data.toString()).toBe('hi from 1');
    // One connection, and it runs over loopback although the cards list every interface.
    for (const r of job) {
      const conns = r.module.connections();
      expect(conns).toHaveLength(1);
      expect(isLoopback(conns[0]!.remoteAddress!, conns[0]!.remoteAddress!.includes(':') ? 'IPv6' : 'IPv4')).toBe(true);
    }
    expect(a.host.errors).toEqual([]);
    expect(b.host.errors).toEqual([]);
  });

  it('connects every pair of 3 ranks and delivers each fragment to the right rank', async () => {
    job = await startJob(3);
    const sends: Promise<Error | undefined>[] = [];
    for (const r of job)
      for (const peer of job) if (peer !== r) sends.push(sendAndWait(r, peer.rank, 0x80, [Buffer.from(`${r.rank}->${peer.rank}`)]));
    expect(await Promise.all(sends)).toEqual(Array(6).fill(undefined));
    await until('6 fragments', () => job.every((r) => r.host.received.length === 2));
    for (const r of job) {
      const got = r.host.received.map((m) => `${m.from}:${m.data.toString()}`).sort();
      const want = job.filter((p) => p !== r).map((p) => `${p.rank}:${p.rank}->${r.rank}`);
      expect(got).toEqual(want);
      for (const peer of job) if (peer !== r) expect(inUse(r, peer.rank)).toHaveLength(1);
    }
  });

  it('keeps per-endpoint order over 10,000 fragments each way', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    const N = 10_000;
    const seen = [[] as number[], [] as number[]];
    for (const r of job)
      r.host.sink = (_from, _tag, data) => seen[r.rank]!.push(Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0));
    let done = 0;
    for (let i = 0; i < N; i++) {
      a.module.send(a.ep(1), 0x40, [seqFrame(i, 4 + (i % 64))], () => done++);
      b.module.send(b.ep(0), 0x40, [seqFrame(i, 4 + (i % 13))], () => done++);
    }
    await Promise.all([a.module.flush(), b.module.flush()]);
    expect(done).toBe(2 * N);
    await until('all 20,000', () => seen[0]!.length === N && seen[1]!.length === N, 15_000);
    const inOrder = Array.from({ length: N }, (_, i) => i);
    expect(seen[0]).toEqual(inOrder);
    expect(seen[1]).toEqual(inOrder);
  });

  it('delivers fragments of 0, 1, eagerLimit and maxSendSize bytes intact, and refuses maxSendSize + 1', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    const sizes = [0, 1, a.module.eagerLimit, a.module.maxSendSize];
    const payloads = sizes.map((n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (j * 31 + i) & 0xff)));
    for (const [i, p] of payloads.entries()) {
      // Split into segments to check that the concatenation arrives as one fragment.
      const segs = p.length > 2 ? [p.subarray(0, 1), p.subarray(1, p.length >> 1), Buffer.alloc(0), p.subarray(p.length >> 1)] : [p];
      expect(await sendAndWait(a, 1, 0x80 + i, segs)).toBeUndefined();
    }
    await until('4 fragments', () => b.host.received.length === 4);
    b.host.received.forEach((m, i) => {
      expect(m.tag).toBe(0x80 + i);
      expect(m.data.length).toBe(sizes[i]);
      expect(m.data.equals(payloads[i]!)).toBe(true);
    });
    const tooBig = await sendAndWait(a, 1, 0x80, [Buffer.alloc(a.module.maxSendSize + 1)]);
    expect(tooBig?.message).toMatch(/exceeds max_send_size/);
    const badTag = await sendAndWait(a, 1, 256, [Buffer.alloc(1)]);
    expect(badTag?.message).toMatch(/not an 8-bit tag/);
  });

  it('delivers a mixed burst intact both ways while each sender reuses a segment as soon as its done() runs', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    // Sizes around the copy threshold (copied next to the header vs written in place) and up to
    // a fragment; a buffer goes back to its sender's pool on done(), is refilled and sent again.
    const sizes = [0, 1, 100, 4095, 4096, 4097, 20_000, 70_001, 300_000, a.module.maxSendSize - 4];
    const N = 600;
    const check = (r: Rank, bad: { n: number }, seen: { n: number }) => {
      r.host.sink = (_from, _tag, data) => {
        const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        const seq = buf.readUInt32BE(0);
        const size = sizes[seq % sizes.length]!;
        if (seq !== seen.n || buf.length !== size + 4 || (size > 0 && (buf[4] !== (seq & 0xff) || buf[buf.length - 1] !== (seq & 0xff))))
          bad.n++;
        seen.n++;
      };
    };
    const results = job.map(() => ({ bad: { n: 0 }, seen: { n: 0 } }));
    job.forEach((r, i) => check(r, results[i]!.bad, results[i]!.seen));
    const send = async (from: Rank, to: number) => {
      const pool = new Map<number, Buffer[]>();
      for (let seq = 0; seq < N; seq++) {
        const size = sizes[seq % sizes.length]!;
        const body = pool.get(size)?.pop() ?? Buffer.allocUnsafe(size);
        body.fill(seq & 0xff);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(seq, 0);
        from.module.send(from.ep(to), 0x40, [head, body], (err) => {
          if (err) throw err;
          // Scribble over it at once: a fragment not yet handed to the kernel would show it.
          body.fill(0xee);
          let list = pool.get(size);
          if (!list) pool.set(size, (list = []));
          list.push(body);
        });
        if (seq % 37 === 0) await new Promise((r) => setImmediate(r));
      }
      await from.module.flush();
    };
    await Promise.all([send(a, 1), send(b, 0)]);
    await until('every fragment', () => results.every((r) => r.seen.n === N), 20_000);
    expect(results.map((r) => r.bad.n)).toEqual([0, 0]);
  });

  it('resolves simultaneous first sends to one connection, with nothing lost, doubled or reordered', async () => {
    let collisions = 0;
    for (let round = 0; round < 6; round++) {
      job = await startJob(round % 2 ? 3 : 2);
      const K = 200;
      const seen = new Map<string, number[]>();
      for (const r of job) {
        r.host.sink = (from, _tag, data) => {
          const key = `${from}->${r.rank}`;
          if (!seen.has(key)) seen.set(key, []);
          seen.get(key)!.push(Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0));
        };
      }
      // Everyone's first send in the same tick: every pair connects from both ends at once.
      for (let i = 0; i < K; i++) for (const r of job) for (const p of job) if (p !== r) r.module.send(r.ep(p.rank), 0x40, [seqFrame(i)]);
      await Promise.all(job.map((r) => r.module.flush()));
      const pairs = job.length * (job.length - 1);
      await until('every fragment', () => seen.size === pairs && [...seen.values()].every((s) => s.length >= K));
      await new Promise((r) => setTimeout(r, 20));
      for (const [key, s] of seen) expect(s, key).toEqual(Array.from({ length: K }, (_, i) => i));
      // One socket per pair at each end once the loser is gone, and both ends use the same one.
      for (const r of job) {
        for (const p of job) {
          if (p === r) continue;
          await until(`one connection ${r.rank}-${p.rank}`, () => r.module.connections().filter((c) => c.rank === p.rank).length === 1);
          const mine = inUse(r, p.rank)[0]!;
          const theirs = inUse(p, r.rank)[0]!;
          expect(mine.localPort).toBe(theirs.remotePort);
          expect(mine.initiator).toBe(theirs.initiator);
        }
      }
      collisions += job.filter((r) => r.host.logged(/simultaneous connect/)).length;
      for (const r of job) expect(r.host.errors).toEqual([]);
      await stopAll(job);
      job = [];
    }
    expect(collisions).toBeGreaterThan(0);
  });

  it('applies back-pressure: a 64 MiB burst sees send() return false, then writable(), and all arrives in order', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    const size = a.module.maxSendSize;
    const total = (64 * 1024 * 1024) / size;
    let received = 0;
    let bad = 0;
    b.host.sink = (_from, _tag, data) => {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const seq = buf.readUInt32BE(0);
      if (seq !== received || buf.length !== size || buf[size >> 1] !== (seq & 0xff) || buf[size - 1] !== (seq & 0xff)) bad++;
      received++;
    };
    // Buffers go back to the pool on done(): if done came before the kernel had the bytes, the
    // reuse would corrupt a fragment in flight, and the receiver's checks would see it.
    const pool: Buffer[] = [];
    let falses = 0;
    let maxQueued = 0;
    let resume: (() => void) | undefined;
    a.host.onWritable = () => resume?.();
    for (let seq = 0; seq < total; seq++) {
      const buf = pool.pop() ?? Buffer.allocUnsafe(size);
      buf.fill(seq & 0xff);
      buf.writeUInt32BE(seq, 0);
      const ok = a.module.send(a.ep(1), 0x40, [buf], (err) => {
        if (err) throw err;
        pool.push(buf);
      });
      maxQueued = Math.max(maxQueued, a.module.peerState(a.ep(1))!.queuedBytes);
      if (!ok) {
        falses++;
        await new Promise<void>((r) => (resume = r));
      }
    }
    await a.module.flush();
    await until('64 MiB', () => received === total, 20_000);
    expect(bad).toBe(0);
    expect(falses).toBeGreaterThan(0);
    expect(a.host.writables.length).toBe(falses);
    expect(maxQueued).toBeLessThanOrEqual(4 * 1024 * 1024 + size + 8);
    expect(pool.length).toBeLessThan(64);
  });
});
