import { afterEach, describe, expect, it } from 'vitest';
import { createSoftProvider, type SoftVerbsProvider } from '../src/soft/provider.js';
import { Access } from '../src/constants.js';
import type { VerbsError } from '../src/errors.js';
import type { QueuePair } from '../src/types.js';
import { connect, openEnd, sge, waitFor, type End } from './helpers/verbs-end.js';

const opened: End[] = [];
function end(provider: SoftVerbsProvider, caps?: Parameters<typeof openEnd>[1]): End {
  const e = openEnd(provider, caps);
  opened.push(e);
  return e;
}
afterEach(() => {
  for (const e of opened.splice(0)) e.close();
});

function thrown(fn: () => void): VerbsError {
  try {
    fn();
  } catch (err) {
    return err as VerbsError;
  }
  throw new Error('expected a throw');
}

/** Short timers so the retry paths run in milliseconds: ack timeout 4.096 µs · 2^8 ≈ 1 ms, RNR timer 0.01 ms. */
const FAST = { timeout: 8, minRnrTimer: 1 } as const;

describe('remote access errors (as an HCA reports them)', () => {
  it('a write with a wrong rkey completes REM_ACCESS_ERR, moves both QPs to ERROR and flushes the rest', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const remote = b.mr(64);
    const local = a.mr(64);
    a.qp.postRecv({ id: 100, sges: [sge(local)] });
    b.qp.postRecv({ id: 200, sges: [sge(remote)] });
    a.qp.postSend({ id: 1, opcode: 'RDMA_WRITE', sges: [sge(local, 0, 8)], remote: { addr: remote.addr, rkey: remote.rkey ^ 0x55 } });
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(local, 0, 8)], signaled: false });
    a.qp.postSend({ id: 3, opcode: 'RDMA_READ', sges: [sge(local, 0, 8)], remote: { addr: remote.addr, rkey: remote.rkey } });
    await waitFor('the flush', () => a.sent.length === 3 && a.received.length === 1 && b.received.length === 1);
    expect(a.sent.map((w) => [w.id, w.status, w.opcode])).toEqual([
      [1, 'REM_ACCESS_ERR', undefined],
      [2, 'WR_FLUSH_ERR', undefined],
      [3, 'WR_FLUSH_ERR', undefined],
    ]);
    expect(a.received).toMatchObject([{ id: 100, status: 'WR_FLUSH_ERR' }]);
    expect(a.qp.state).toBe('ERROR');
    // The responder detected the violation: its QP is in ERROR too, with an async event.
    expect(b.qp.state).toBe('ERROR');
    expect(b.received).toMatchObject([{ id: 200, status: 'WR_FLUSH_ERR' }]);
    await waitFor('the async event', () => b.events.length === 1);
    expect(b.events).toEqual([{ type: 'QP_ACCESS_ERR', qpn: b.qp.qpn }]);
    // Posting in ERROR is accepted and flushed.
    a.qp.postSend({ id: 4, opcode: 'SEND', sges: [] });
    await waitFor('the late flush', () => a.sent.length === 4);
    expect(a.sent[3]).toMatchObject({ id: 4, status: 'WR_FLUSH_ERR' });
  });

  it.each([
    ['past the end of the region', (addr: bigint) => addr + 60n, 8, Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ],
    ['before its start', (addr: bigint) => addr - 1n, 4, Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ],
    ['into a region registered without REMOTE_READ', (addr: bigint) => addr, 4, Access.LOCAL_WRITE | Access.REMOTE_WRITE],
  ])('a read %s completes REM_ACCESS_ERR', async (_what, at, length, access) => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const remote = b.mr(64, access);
    const local = a.mr(64);
    a.qp.postSend({ id: 1, opcode: 'RDMA_READ', sges: [sge(local, 0, length)], remote: { addr: at(remote.addr), rkey: remote.rkey } });
    await waitFor('the completion', () => a.sent.length === 1);
    expect(a.sent[0]).toMatchObject({ id: 1, status: 'REM_ACCESS_ERR' });
    expect(a.qp.state).toBe('ERROR');
  });

  it('a deregistered region is gone for the peer', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const remote = b.mr(16);
    const local = a.mr(16);
    remote.deregister();
    a.qp.postSend({ id: 1, opcode: 'RDMA_WRITE', sges: [sge(local)], remote: { addr: remote.addr, rkey: remote.rkey } });
    await waitFor('the completion', () => a.sent.length === 1);
    expect(a.sent[0]!.status).toBe('REM_ACCESS_ERR');
  });

  it('a bad lkey is a local protection error; a too small receive is LOC_LEN_ERR there and REM_INV_REQ_ERR here', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b);
    const local = a.mr(16);
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [{ ...sge(local), lkey: local.lkey + 1 }] });
    await waitFor('the local error', () => a.sent.length === 1);
    expect(a.sent[0]).toMatchObject({ id: 1, status: 'LOC_PROT_ERR' });

    const c = end(createSoftProvider());
    const d = end(createSoftProvider());
    connect(c, d);
    const small = d.mr(4);
    d.qp.postRecv({ id: 9, sges: [sge(small)] });
    const big = c.mr(16);
    c.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(big)] });
    await waitFor('both errors', () => c.sent.length === 1 && d.received.length === 1);
    expect(d.received[0]).toMatchObject({ id: 9, status: 'LOC_LEN_ERR' });
    expect(c.sent[0]).toMatchObject({ id: 2, status: 'REM_INV_REQ_ERR' });
    expect([c.qp.state, d.qp.state]).toEqual(['ERROR', 'ERROR']);
  });
});

describe('receiver not ready and transport retries', () => {
  it('retries a send while no receive is posted, up to rnr_retry, then RNR_RETRY_EXC_ERR', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b, { ...FAST, rnrRetry: 3 });
    const src = a.mr(8);
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(src)] });
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(src)] });
    await waitFor('the failure', () => a.sent.length === 2);
    expect(a.sent.map((w) => [w.id, w.status])).toEqual([
      [1, 'RNR_RETRY_EXC_ERR'],
      [2, 'WR_FLUSH_ERR'],
    ]);
    expect(a.qp.state).toBe('ERROR');
    // The responder merely said "not ready": it is fine.
    expect(b.qp.state).toBe('RTS');
  });

  it('succeeds when the receive is posted while the sender is still retrying, keeping order', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    connect(a, b, { ...FAST, rnrRetry: 7 });
    const src = a.mr(2);
    src.buffer.set([1, 2]);
    const dst = b.mr(2);
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(src, 0, 1)] });
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(src, 1, 1)] });
    await new Promise((r) => setTimeout(r, 30));
    expect(a.sent).toEqual([]);
    b.qp.postRecv({ id: 10, sges: [sge(dst, 0, 1)] });
    b.qp.postRecv({ id: 11, sges: [sge(dst, 1, 1)] });
    await waitFor('both sends', () => a.sent.length === 2 && b.received.length === 2);
    expect(a.sent.map((w) => w.status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect([...dst.buffer]).toEqual([1, 2]);
  });

  it('gives up with RETRY_EXC_ERR when the peer QP never becomes ready, and succeeds if it does in time', async () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    // a is connected to b's QP, which stays in INIT: a real HCA drops the packets.
    b.qp.modify('INIT');
    a.qp.modify('INIT');
    a.qp.modify('RTR', { remoteQpn: b.qp.qpn, dest: { lid: 0, gid: b.ctx.queryPort(1).gid } });
    a.qp.modify('RTS', { ...FAST, retryCnt: 2 });
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [] });
    await waitFor('the failure', () => a.sent.length === 1);
    expect(a.sent[0]).toMatchObject({ id: 1, status: 'RETRY_EXC_ERR' });

    const c = end(createSoftProvider());
    const d = end(createSoftProvider());
    c.qp.modify('INIT');
    c.qp.modify('RTR', { remoteQpn: d.qp.qpn, dest: { lid: 0, gid: d.ctx.queryPort(1).gid } });
    c.qp.modify('RTS', { timeout: 12, retryCnt: 7 }); // ≈ 17 ms per retry
    c.qp.postSend({ id: 1, opcode: 'SEND', sges: [] });
    await new Promise((r) => setTimeout(r, 20));
    d.qp.modify('INIT');
    d.qp.postRecv({ id: 5, sges: [] });
    d.qp.modify('RTR', { remoteQpn: c.qp.qpn, dest: { lid: 0, gid: c.ctx.queryPort(1).gid } });
    await waitFor('the late success', () => c.sent.length === 1);
    expect(c.sent[0]).toMatchObject({ id: 1, status: 'SUCCESS' });
    expect(d.received).toMatchObject([{ id: 5, status: 'SUCCESS', byteLen: 0 }]);
  });
});

describe('the RC QP state machine', () => {
  it('refuses posts and transitions the state does not allow, with EINVAL from the verbs call', () => {
    const a = end(createSoftProvider());
    const b = end(createSoftProvider());
    const qp: QueuePair = a.qp;
    const send = () => qp.postSend({ id: 1, opcode: 'SEND', sges: [] });
    expect(qp.state).toBe('RESET');
    expect(thrown(send)).toMatchObject({ call: 'ibv_post_send', code: 'EINVAL' });
    expect(thrown(() => qp.postRecv({ id: 1, sges: [] }))).toMatchObject({ call: 'ibv_post_recv', code: 'EINVAL' });
    expect(thrown(() => qp.modify('RTR', { remoteQpn: b.qp.qpn, dest: { lid: 0, gid: b.ctx.queryPort(1).gid } }))).toMatchObject({
      call: 'ibv_modify_qp',
      code: 'EINVAL',
    });
    expect(thrown(() => qp.modify('RTS'))).toMatchObject({ call: 'ibv_modify_qp', code: 'EINVAL' });
    qp.modify('INIT');
    expect(thrown(send)).toMatchObject({ call: 'ibv_post_send', code: 'EINVAL' });
    qp.postRecv({ id: 1, sges: [] }); // receives may be posted from INIT on
    expect(thrown(() => qp.modify('RTR', { remoteQpn: b.qp.qpn }))).toMatchObject({ call: 'ibv_modify_qp', code: 'EINVAL' });
    qp.modify('RTR', { remoteQpn: b.qp.qpn, dest: { lid: 0, gid: b.ctx.queryPort(1).gid } });
    expect(thrown(send)).toMatchObject({ call: 'ibv_post_send', code: 'EINVAL' });
    qp.modify('RTS');
    expect(qp.state).toBe('RTS');
    expect(thrown(() => qp.modify('INIT'))).toMatchObject({ call: 'ibv_modify_qp', code: 'EINVAL' });
    qp.modify('ERROR');
    expect(thrown(() => qp.modify('RTS'))).toMatchObject({ call: 'ibv_modify_qp', code: 'EINVAL' });
    qp.modify('RESET');
    expect(qp.state).toBe('RESET');
    qp.modify('INIT');
    expect(qp.state).toBe('INIT');
  });

  it('flushes posted receives when moved to ERROR, and drops them silently on RESET', async () => {
    const a = end(createSoftProvider());
    a.qp.modify('INIT');
    a.qp.postRecv({ id: 1, sges: [] });
    a.qp.postRecv({ id: 2, sges: [] });
    a.qp.modify('ERROR');
    await waitFor('the flush', () => a.received.length === 2);
    expect(a.received.map((w) => [w.id, w.status])).toEqual([
      [1, 'WR_FLUSH_ERR'],
      [2, 'WR_FLUSH_ERR'],
    ]);
    a.qp.modify('RESET');
    a.qp.modify('INIT');
    a.qp.postRecv({ id: 3, sges: [] });
    a.qp.modify('RESET');
    await new Promise((r) => setImmediate(r));
    expect(a.received).toHaveLength(2);
  });

  it('enforces queue and SGE limits (ENOMEM, EINVAL) and resource lifetimes (EBUSY)', () => {
    const a = end(createSoftProvider(), { maxSendWr: 2, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 });
    const b = end(createSoftProvider());
    connect(a, b, { rnrRetry: 7 });
    const mr = a.mr(8);
    a.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(mr)] });
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(mr)] });
    expect(thrown(() => a.qp.postSend({ id: 3, opcode: 'SEND', sges: [sge(mr)] }))).toMatchObject({
      call: 'ibv_post_send',
      code: 'ENOMEM',
    });
    a.qp.postRecv({ id: 1, sges: [sge(mr)] });
    expect(thrown(() => a.qp.postRecv({ id: 2, sges: [sge(mr)] }))).toMatchObject({ call: 'ibv_post_recv', code: 'ENOMEM' });
    expect(thrown(() => a.qp.postSend({ id: 4, opcode: 'RDMA_WRITE', sges: [sge(mr)] }))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => a.qp.postSend({ id: 4, opcode: 'SEND', sges: [sge(mr), sge(mr)] }))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => a.sendCq.destroy())).toMatchObject({ call: 'ibv_destroy_cq', code: 'EBUSY' });
    expect(thrown(() => a.pd.dealloc())).toMatchObject({ call: 'ibv_dealloc_pd', code: 'EBUSY' });
    a.qp.destroy();
    mr.deregister();
    a.sendCq.destroy();
    a.pd.dealloc();
    expect(thrown(() => a.qp.postSend({ id: 1, opcode: 'SEND', sges: [] }))).toMatchObject({ call: 'ibv_post_send', code: 'EINVAL' });
  });
});

describe('device reset (what a VM snapshot or migration does to an HCA)', () => {
  it('moves every QP to ERROR with flushes, drops registrations, kills the context, and comes back at a new address', async () => {
    const providerA = createSoftProvider();
    const a = end(providerA);
    const b = end(createSoftProvider());
    connect(a, b, { ...FAST, retryCnt: 1 }, { ...FAST, retryCnt: 1 });
    const mrA = a.mr(16);
    const oldGid = a.ctx.queryPort(1).gid;
    a.qp.postRecv({ id: 1, sges: [sge(mrA)] });
    a.qp.postSend({ id: 2, opcode: 'SEND', sges: [sge(mrA)] }); // b has no receive: RNR, stays outstanding

    providerA.resetDevice();

    await waitFor('the flushes', () => a.sent.length === 1 && a.received.length === 1 && a.events.length === 1);
    expect(a.qp.state).toBe('ERROR');
    expect(a.sent[0]).toMatchObject({ id: 2, status: 'WR_FLUSH_ERR' });
    expect(a.received[0]).toMatchObject({ id: 1, status: 'WR_FLUSH_ERR' });
    expect(a.events).toEqual([{ type: 'DEVICE_FATAL' }]);
    expect(thrown(() => a.ctx.allocPd())).toMatchObject({ call: 'ibv_alloc_pd', code: 'EIO' });
    expect(thrown(() => a.qp.postSend({ id: 3, opcode: 'SEND', sges: [] }))).toMatchObject({ call: 'ibv_post_send', code: 'EIO' });

    // The peer's QP still points at the old address: nobody answers there any more.
    const mrB = b.mr(16);
    b.qp.postSend({ id: 4, opcode: 'RDMA_WRITE', sges: [sge(mrB)], remote: { addr: mrA.addr, rkey: mrA.rkey } });
    await waitFor('the peer to give up', () => b.sent.length === 1);
    expect(b.sent[0]).toMatchObject({ id: 4, status: 'RETRY_EXC_ERR' });

    // Cleanup still works on the dead context; the device re-opens at a new GID and works.
    a.close();
    expect(providerA.listDevices()[0]!.ports[0]!.gid).not.toBe(oldGid);
    const a2 = end(providerA);
    const b2 = end(createSoftProvider());
    expect(a2.ctx.queryPort(1).gid).not.toBe(oldGid);
    connect(a2, b2);
    const src = a2.mr(4);
    const dst = b2.mr(4);
    b2.qp.postRecv({ id: 1, sges: [sge(dst)] });
    a2.qp.postSend({ id: 1, opcode: 'SEND', sges: [sge(src)] });
    await waitFor('traffic after the reset', () => b2.received.length === 1);
    expect(b2.received[0]!.status).toBe('SUCCESS');
  });
});
