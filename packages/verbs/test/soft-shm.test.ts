import { describe, expect, it } from 'vitest';
import { createSoftProvider } from '../src/soft/provider.js';
import { INLINE_LIMIT } from '../src/soft/shm-link.js';
import { connect, endsClosedAfterEach, sge, waitFor } from './helpers/verbs-end.js';

const end = endsClosedAfterEach();

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('the soft device over shared memory', () => {
  it('carries inline and CMA sends, RDMA writes and reads (one SGE and several) through the link', async () => {
    const pa = createSoftProvider();
    const pb = createSoftProvider();
    expect(pa.dataPath().wire).toBe('shm');
    const a = end(pa);
    const b = end(pb);
    connect(a, b);
    const big = 4 * INLINE_LIMIT + 3;
    const src = a.mr(big);
    src.buffer.set(pattern(big, 1));
    const dst = b.mr(big);
    // A small send (inline in the ring) and a large one (the responder reads it with CMA), in order.
    b.qp.postRecv({ id: 1, sges: [sge(dst, 0, 16)] });
    b.qp.postRecv({ id: 2, sges: [sge(dst, 0, 100), sge(dst, 100, big - 100)] });
    a.qp.postSend({ id: 10, opcode: 'SEND', sges: [sge(src, 0, 16)] });
    a.qp.postSend({ id: 11, opcode: 'SEND', sges: [sge(src, 0, big)] });
    await waitFor('two receives', () => b.received.length === 2 && a.sent.length === 2);
    expect(b.received.map((w) => [w.id, w.status, w.byteLen])).toEqual([
      [1, 'SUCCESS', 16],
      [2, 'SUCCESS', big],
    ]);
    expect(Buffer.from(dst.buffer).equals(Buffer.from(pattern(big, 1)))).toBe(true);
    expect(pa.dataPath().links).toBeGreaterThan(0);
    expect(pb.dataPath().links).toBeGreaterThan(0);

    // RDMA write of a large buffer, then reads back into one SGE and into three.
    src.buffer.set(pattern(big, 7));
    a.qp.postSend({ id: 12, opcode: 'RDMA_WRITE', sges: [sge(src)], remote: { addr: dst.addr, rkey: dst.rkey } });
    const back = a.mr(big);
    a.qp.postSend({ id: 13, opcode: 'RDMA_READ', sges: [sge(back)], remote: { addr: dst.addr, rkey: dst.rkey } });
    const split = a.mr(big);
    const third = Math.floor(big / 3);
    a.qp.postSend({
      id: 14,
      opcode: 'RDMA_READ',
      sges: [sge(split, 0, third), sge(split, third, third), sge(split, 2 * third, big - 2 * third)],
      remote: { addr: dst.addr, rkey: dst.rkey },
    });
    await waitFor('write and reads', () => a.sent.length === 5);
    expect(a.sent.slice(2).map((w) => [w.id, w.status, w.byteLen])).toEqual([
      [12, 'SUCCESS', 0],
      [13, 'SUCCESS', big],
      [14, 'SUCCESS', big],
    ]);
    expect(Buffer.from(dst.buffer).equals(Buffer.from(pattern(big, 7)))).toBe(true);
    expect(Buffer.from(back.buffer).equals(Buffer.from(pattern(big, 7)))).toBe(true);
    expect(Buffer.from(split.buffer).equals(Buffer.from(pattern(big, 7)))).toBe(true);
  });

  it('keeps order and flow control when a burst overfills the ring', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const count = 60;
    const size = INLINE_LIMIT; // inline: 60 of the largest is more than the request ring holds
    const src = a.mr(size * count);
    for (let i = 0; i < count; i++) src.buffer.fill(i, i * size, (i + 1) * size);
    const dst = b.mr(size * count);
    for (let i = 0; i < count; i++) b.qp.postRecv({ id: i, sges: [sge(dst, i * size, size)] });
    for (let i = 0; i < count; i++) a.qp.postSend({ id: i, opcode: 'SEND', sges: [sge(src, i * size, size)] });
    await waitFor('the burst', () => b.received.length === count && a.sent.length === count);
    expect(b.received.map((w) => w.id)).toEqual([...Array(count).keys()]);
    expect(a.sent.every((w) => w.status === 'SUCCESS')).toBe(true);
    expect(Buffer.from(dst.buffer).equals(Buffer.from(src.buffer))).toBe(true);
  });

  it('executes RDMA against the peer\'s published regions without it, and refuses a withdrawn one through the responder', async () => {
    const pa = createSoftProvider();
    const a = end(pa);
    const b = end(createSoftProvider());
    connect(a, b);
    const local = a.mr(64 * 1024);
    const remote = b.mr(64 * 1024);
    remote.buffer.set(pattern(remote.length, 3));
    const at = { addr: remote.addr, rkey: remote.rkey };
    // The first request opens the link (through the ring); the next ones need no answer from b.
    a.qp.postSend({ id: 1, opcode: 'RDMA_READ', sges: [sge(local)], remote: at });
    await waitFor('the first read', () => a.sent.length === 1);
    const before = pa.dataPath().directRdma;
    const split = [sge(local, 0, 100), sge(local, 100, 1000)];
    a.qp.postSend({ id: 2, opcode: 'RDMA_READ', sges: split, remote: { ...at, addr: at.addr + 10n } });
    a.qp.postSend({ id: 3, opcode: 'RDMA_WRITE', sges: [sge(local, 0, 5000)], remote: { ...at, addr: at.addr + 60_000n } });
    await waitFor('both', () => a.sent.length === 3);
    expect(a.sent.map((w) => [w.id, w.status, w.byteLen])).toEqual([
      [1, 'SUCCESS', 64 * 1024],
      [2, 'SUCCESS', 1100],
      [3, 'SUCCESS', 0],
    ]);
    expect(pa.dataPath().directRdma).toBe(before + 2);
    expect(Buffer.from(local.buffer.subarray(0, 1100)).equals(Buffer.from(pattern(remote.length, 3).subarray(10, 1110)))).toBe(true);
    expect(Buffer.from(remote.buffer.subarray(60_000, 65_000)).equals(Buffer.from(local.buffer.subarray(0, 5000)))).toBe(true);

    // Deregistered on b: gone from its published table; the responder refuses it as an HCA does.
    remote.deregister();
    a.qp.postSend({ id: 4, opcode: 'RDMA_READ', sges: [sge(local, 0, 8)], remote: at });
    await waitFor('the refusal', () => a.sent.length === 4);
    expect(a.sent[3]).toMatchObject({ id: 4, status: 'REM_ACCESS_ERR' });
    expect(pa.dataPath().directRdma).toBe(before + 2);
    await waitFor('b in ERROR', () => b.qp.state === 'ERROR');
  });

  it('lets a read pass unacknowledged sends (not a write, a read or a send\'s own bytes), completing the queue in order', async () => {
    const pa = createSoftProvider();
    const a = end(pa);
    const b = end(createSoftProvider());
    // rnr_retry 1: a send b has no receive for is refused (RNR), retried once, then fails.
    connect(a, b, { rnrRetry: 1, minRnrTimer: 1 });
    const local = a.mr(4096);
    const remote = b.mr(4096);
    remote.buffer.set(pattern(4096, 5));
    const at = { addr: remote.addr, rkey: remote.rkey };
    const landing = b.mr(64);
    // The first request opens the link; the rest go through it.
    b.qp.postRecv({ id: 100, sges: [sge(landing)] });
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(local, 0, 8)] });
    await waitFor('the first send', () => a.sent.length === 1);

    // A send b has a receive for, then a read: the read is done before b's event loop acknowledges the send.
    b.qp.postRecv({ id: 101, sges: [sge(landing)] });
    const before = pa.dataPath().directRdma;
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(local, 3000, 8)] });
    a.qp.postSend({ id: 3, opcode: 'RDMA_READ', sges: [sge(local, 0, 1000)], remote: at });
    expect(pa.dataPath().directRdma).toBe(before + 1);
    expect(a.sent).toHaveLength(1); // its completion waits for the send's
    // A write behind a send waits its turn at the responder, and so does a read behind the write.
    a.qp.postSend({ id: 4, opcode: 'RDMA_WRITE', sges: [sge(local, 0, 100)], remote: { ...at, addr: at.addr + 2000n } });
    a.qp.postSend({ id: 5, opcode: 'RDMA_READ', sges: [sge(local, 1000, 100)], remote: { ...at, addr: at.addr + 2000n } });
    expect(pa.dataPath().directRdma).toBe(before + 1);
    await waitFor('four more', () => a.sent.length === 5);
    expect(a.sent.map((w) => [w.id, w.status, w.opcode, w.byteLen])).toEqual([
      [1, 'SUCCESS', 'SEND', 0],
      [2, 'SUCCESS', 'SEND', 0],
      [3, 'SUCCESS', 'RDMA_READ', 1000],
      [4, 'SUCCESS', 'RDMA_WRITE', 0],
      [5, 'SUCCESS', 'RDMA_READ', 100],
    ]);
    expect(Buffer.from(local.buffer.subarray(0, 1000)).equals(Buffer.from(pattern(4096, 5).subarray(0, 1000)))).toBe(true);
    // The read behind the write saw the write's bytes.
    expect(Buffer.from(local.buffer.subarray(1000, 1100)).equals(Buffer.from(local.buffer.subarray(0, 100)))).toBe(true);

    // A read into bytes an unacknowledged send takes its payload from waits its turn: the send carries what was there.
    const source = a.mr(64);
    source.buffer.fill(0x11);
    b.qp.postRecv({ id: 102, sges: [sge(landing)] });
    a.qp.postSend({ id: 20, opcode: 'SEND', sges: [sge(source)] });
    a.qp.postSend({ id: 21, opcode: 'RDMA_READ', sges: [sge(source)], remote: at });
    expect(pa.dataPath().directRdma).toBe(before + 1);
    await waitFor('the send and the read', () => a.sent.length === 7);
    expect(a.sent.slice(5).map((w) => [w.id, w.status])).toEqual([
      [20, 'SUCCESS'],
      [21, 'SUCCESS'],
    ]);
    expect(Buffer.from(landing.buffer).equals(Buffer.alloc(64, 0x11))).toBe(true);
    expect(Buffer.from(source.buffer).equals(Buffer.from(pattern(4096, 5).subarray(0, 64)))).toBe(true);

    // A send b has no receive for fails (RNR retries exhausted): the read that passed it is flushed, as an HCA's would be.
    a.qp.postSend({ id: 6, opcode: 'SEND', sges: [sge(local, 0, 8)] });
    a.qp.postSend({ id: 7, opcode: 'RDMA_READ', sges: [sge(local, 0, 8)], remote: at });
    await waitFor('the failure', () => a.sent.length === 9);
    expect(a.sent.slice(7).map((w) => [w.id, w.status])).toEqual([
      [6, 'RNR_RETRY_EXC_ERR'],
      [7, 'WR_FLUSH_ERR'],
    ]);
  });
});
