import { afterEach, describe, expect, it } from 'vitest';
import { BtlFlag, Exclusivity } from '@switchyard/btl-interface';
import { addAll, finalizeAll, initRanks, procsOf, type Rank } from './helpers/btl-job.js';
import { waitFor } from '../../verbs/test/helpers/verbs-end.js';

let job: Rank[] = [];
afterEach(async () => {
  await finalizeAll(job);
  job = [];
});

const sendAsync = (r: Rank, to: number, tag: number, segments: Uint8Array[]) =>
  new Promise<void>((resolve, reject) => r.module.send(r.endpoints[to]!, tag, segments, (err) => (err ? reject(err) : resolve())));

describe('openib modules over the soft provider', () => {
  it('publish a card with a QPN per rank and reach every other rank, not themselves', async () => {
    job = await initRanks(3);
    const m = job[0]!.module;
    expect(m.name).toBe('openib:soft0:1');
    expect([m.exclusivity, m.latency, m.flags]).toEqual([Exclusivity.DEFAULT, 4, BtlFlag.SEND | BtlFlag.PUT | BtlFlag.GET]);
    expect(m.businessCard).toMatchObject({ provider: 'soft', device: 'soft0', port: 1, lid: 0, linkLayer: 'ETHERNET', recvBuffers: 16 });
    const qpns = (m.businessCard as { qpns: number[] }).qpns;
    expect(qpns[0]).toBe(0);
    expect(qpns[1]).toBeGreaterThan(0);
    await addAll(job);
    expect(job[0]!.endpoints.map((e) => e?.rank)).toEqual([undefined, 1, 2]);
    expect(job[2]!.endpoints.map((e) => e?.rank)).toEqual([0, 1, undefined]);
  });

  it('does not reach a peer on another host, or one without a card', async () => {
    job = await initRanks(2);
    const [p0, p1] = procsOf(job);
    const endpoints = await job[0]!.module.addProcs([p0!, { ...p1!, local: false, hostname: 'elsewhere' }]);
    expect(endpoints).toEqual([undefined, undefined]);
    expect(await job[1]!.module.addProcs([{ ...p0!, cards: [] }, p1!])).toEqual([undefined, undefined]);
  });

  it('carries tagged fragments between every pair, in order, with completions', async () => {
    job = await initRanks(3);
    await addAll(job);
    const sends: Promise<void>[] = [];
    for (const r of job) {
      for (const to of [0, 1, 2].filter((x) => x !== r.rank)) {
        for (let i = 0; i < 20; i++) {
          sends.push(sendAsync(r, to, 0x40 + (i % 3), [Buffer.from(`from ${r.rank} `), Buffer.from(`#${i}`)]));
        }
      }
    }
    await Promise.all(sends);
    await waitFor('every fragment', () => job.every((r) => r.host.received.length === 40));
    for (const r of job) {
      for (const from of [0, 1, 2].filter((x) => x !== r.rank)) {
        const got = r.host.received.filter((m) => m.from === from);
        expect(got.map((m) => m.data.toString())).toEqual([...Array(20).keys()].map((i) => `from ${from} #${i}`));
        expect(got.map((m) => m.tag)).toEqual([...Array(20).keys()].map((i) => 0x40 + (i % 3)));
      }
      expect(r.host.errors).toEqual([]);
    }
  });

  it('queues beyond its credits, asks the caller to wait, and returns credits when traffic is one-way', async () => {
    job = await initRanks(2, { recv_buffers: 4, max_send_size: 4096, eager_limit: 1024 });
    await addAll(job);
    const [a, b] = job as [Rank, Rank];
    const n = 400;
    let refused = 0;
    let completed = 0;
    for (let i = 0; i < n; i++) {
      const data = Buffer.alloc(1000, i % 251);
      data.writeUInt32BE(i, 0);
      if (!a.module.send(a.endpoints[1]!, 0x40, [data], (err) => (err ? undefined : completed++))) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    await a.module.flush(a.endpoints[1]);
    expect(completed).toBe(n);
    await waitFor('every fragment', () => b.host.received.length === n);
    expect(b.host.received.map((m) => m.data.readUInt32BE(0))).toEqual([...Array(n).keys()]);
    expect(a.host.writables.length).toBeGreaterThan(0);
    expect(a.host.errors).toEqual([]);
  });

  it('rejects a fragment larger than max_send_size through its completion, not by throwing', async () => {
    job = await initRanks(2, { max_send_size: 1024, eager_limit: 512 });
    await addAll(job);
    const error = await new Promise<Error | undefined>((resolve) =>
      job[0]!.module.send(job[0]!.endpoints[1]!, 0x40, [Buffer.alloc(2048)], resolve),
    );
    expect(error?.message).toMatch(/exceeds/);
  });

  it('puts into and gets from a peer registration, and refuses an out-of-range offset', async () => {
    job = await initRanks(2);
    await addAll(job);
    const [a, b] = job as [Rank, Rank];
    const target = Buffer.alloc(64);
    target.write('data the peer holds', 32);
    const reg = b.module.registerMemory!(target);
    const handle = JSON.parse(JSON.stringify(reg.handle)); // it travels in a message
    const rdma = (op: 'put' | 'get', local: Uint8Array, offset: number) =>
      new Promise<Error | undefined>((resolve) => a.module[op]!(a.endpoints[1]!, local, handle, offset, resolve));
    expect(await rdma('put', Buffer.from('written by rank 0'), 4)).toBeUndefined();
    expect(target.subarray(4, 21).toString()).toBe('written by rank 0');
    const local = Buffer.alloc(19);
    expect(await rdma('get', local, 32)).toBeUndefined();
    expect(local.toString()).toBe('data the peer holds');
    expect((await rdma('put', Buffer.alloc(8), 60))?.message).toMatch(/exceed the remote registration/);
    reg.release();
    expect(a.host.errors).toEqual([]);
  });

  it('connects to a peer that calls add_procs late, through QP resets while it is not ready', async () => {
    // Ack timeout 4.096 us * 2^10 = 4 ms, 2 retries: each HELLO attempt gives up after ~12 ms.
    job = await initRanks(2, { ib_timeout: 10, ib_retry_count: 2 });
    const procs = procsOf(job);
    const [a, b] = job as [Rank, Rank];
    a.endpoints = await a.module.addProcs(procs);
    const early = sendAsync(a, 1, 0x41, [Buffer.from('sent before the peer was ready')]);
    // b joins only once a's HELLO has run out of retries and its QP was reset at least once.
    await waitFor('a QP reset', () => a.host.logs.some((l) => /resetting the QP/.test(l)));
    b.endpoints = await b.module.addProcs(procs);
    await early;
    await sendAsync(b, 0, 0x42, [Buffer.from('reply')]);
    await waitFor('both messages', () => b.host.received.length === 1 && a.host.received.length === 1);
    expect(b.host.received[0]!.data.toString()).toBe('sent before the peer was ready');
    expect(a.host.received[0]!.data.toString()).toBe('reply');
    expect(a.host.logs.some((l) => /resetting the QP/.test(l))).toBe(true);
    expect([a.host.errors, b.host.errors]).toEqual([[], []]);
  });
});
