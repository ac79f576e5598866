import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, MAX_CONTEXT, MpiError, Request, RequestCancelledError, testAll, testAny, waitAll, waitAny } from '../src/index.js';
import { fabric } from './memory-fabric.js';

describe('PML contexts and requests', () => {
  it('keeps any number of communicator contexts apart, one sequence per context, made on first use at either end', async () => {
    const { pmls } = await fabric(2, [{ name: 'm', reorder: true }]);
    const contexts = [0, 2, 3, 40, MAX_CONTEXT];
    // Sent before the receiver has ever used those contexts.
    const sends = contexts.flatMap((ctx) => [0, 1, 2].map((i) => pmls[0]!.isend(Buffer.from(`${ctx}:${i}`), 1, 9, ctx)));
    for (const ctx of [...contexts].reverse()) {
      for (let i = 0; i < 3; i++) expect(Buffer.from((await pmls[1]!.irecv(0, 9, ctx).wait()).data).toString()).toBe(`${ctx}:${i}`);
    }
    await Promise.all(sends.map((s) => s.wait()));
    expect(() => pmls[0]!.isend(new Uint8Array(1), 1, 0, MAX_CONTEXT + 1)).toThrow(expect.objectContaining({ code: 'ERR_COMM' }));
    // A freed communicator's context goes once nothing waits in it; the world's never do.
    const before = pmls[1]!.pending().matching.length;
    pmls[1]!.releaseContext(40);
    pmls[1]!.releaseContext(0);
    expect(pmls[1]!.pending().matching).toHaveLength(before - 1);
  });

  it('gives a context back only once nothing waits in it, its sequence numbers starting afresh at both ends', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    const [p0, p1] = pmls as [(typeof pmls)[0], (typeof pmls)[0]];
    for (let i = 0; i < 3; i++) await p0.isend(Buffer.from(`old ${i}`), 1, 1, 40).wait();
    for (let i = 0; i < 3; i++) await p1.irecv(0, 1, 40).wait();
    // A probe waiting in the context keeps it, as a posted receive does; the world's are never given back.
    const probing = p1.probe(0, 2, 40);
    expect([p1.releaseContext(40), p1.releaseContext(0)]).toEqual([false, false]);
    await p0.isend(Buffer.from('probed'), 1, 2, 40).wait();
    await probing;
    await p1.irecv(0, 2, 40).wait();
    expect([p0.releaseContext(40), p1.releaseContext(40)]).toEqual([true, true]);
    // Used again by a new communicator: its first message is its sequence's first, at both ends.
    const send = p0.isend(Buffer.from('new'), 1, 1, 40);
    expect(Buffer.from((await p1.irecv(0, 1, 40).wait()).data).toString()).toBe('new');
    await send.wait();
  });

  it('cancels a posted receive no message matched, and only that; test() answers a boolean for every request', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    const cancelled = pmls[1]!.irecv(ANY_SOURCE, 5);
    const kept = pmls[1]!.irecv(0, 5);
    expect(cancelled.test()).toBe(false);
    expect(cancelled.cancel()).toBe(true);
    expect([cancelled.test(), cancelled.cancelled]).toEqual([true, true]);
    await expect(cancelled.wait()).rejects.toBeInstanceOf(RequestCancelledError);
    await expect(cancelled.wait()).rejects.toMatchObject({ code: 'ERR_REQUEST_CANCELLED', name: 'RequestCancelledError' });
    // An MpiError too: one `instanceof MpiError` catches every error of the API.
    await expect(cancelled.wait()).rejects.toBeInstanceOf(MpiError);
    const send = pmls[0]!.isend(Buffer.from('x'), 1, 5);
    // The message went to the receive still posted, not the cancelled one.
    expect(Buffer.from((await kept.wait()).data).toString()).toBe('x');
    await send.wait();
    expect([send.test(), kept.test(), kept.cancel(), send.cancel(), kept.cancelled]).toEqual([true, true, false, false, false]);
  });

  it('maps a request\'s result: its test() polls for the inner one, so a loop that never awaits sees it complete', async () => {
    const { pmls } = await fabric(2, [{ name: 'm', polled: true }]);
    const sized = Request.map(pmls[1]!.irecv(0, 5), (m) => m.data.length);
    const send = pmls[0]!.isend(Buffer.from('abc'), 1, 5);
    let spins = 0;
    while (!sized.test() && spins < 1000) spins++;
    expect([sized.test(), await sized.wait()]).toEqual([true, 3]);
    await send.wait();
    const cancelled = Request.map(pmls[1]!.irecv(0, 6), () => 'never');
    expect([cancelled.cancel(), cancelled.test(), cancelled.cancelled]).toEqual([true, true, true]);
    await expect(cancelled.wait()).rejects.toBeInstanceOf(RequestCancelledError);
    const refused = Request.map(pmls[1]!.irecv(0, 7), () => {
      throw new MpiError('ERR_TYPE', 'not that shape');
    });
    await pmls[0]!.isend(Buffer.from('x'), 1, 7).wait();
    await expect(refused.wait()).rejects.toMatchObject({ code: 'ERR_TYPE' });
  });

  it('counts a cancelled receive complete in waitAll and waitAny (value undefined), as testAll and testAny do', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    const cancelledRecv = () => {
      const r = pmls[1]!.irecv(0, 8);
      r.cancel();
      return r;
    };
    const send = pmls[1]!.isend(Buffer.from('self'), 1, 9);
    const all: Request<unknown>[] = [cancelledRecv(), send, pmls[1]!.irecv(1, 9)];
    expect((await waitAll(all)).map((v) => (v === undefined ? v : 'value'))).toEqual([undefined, undefined, 'value']);
    expect(all[0]!.cancelled).toBe(true);
    const any = [cancelledRecv()];
    expect(await waitAny(any)).toEqual({ index: 0, value: undefined });
    expect([testAny([cancelledRecv()]), testAll([cancelledRecv()])]).toEqual([0, true]);
    // Only wait() on the request itself says it was cancelled by rejecting.
    await expect(any[0]!.wait()).rejects.toBeInstanceOf(RequestCancelledError);
  });

  it('answers MPI_UNDEFINED (-1) for an empty list in waitAny, as MPI_Waitany with a count of 0 and testAny do', async () => {
    expect([await waitAny([]), testAny([])]).toEqual([{ index: -1, value: undefined }, -1]);
  });

  it('makes a request of a promise, cancelled at once through the request it stands for', async () => {
    const { pmls } = await fabric(2, [{ name: 'm' }]);
    const inner = pmls[1]!.irecv(0, 6);
    const outer = Request.from(inner.wait(), () => inner.cancel());
    expect(outer.cancel()).toBe(true);
    expect([outer.test(), outer.cancelled, inner.cancelled]).toEqual([true, true, true]);
    await expect(outer.wait()).rejects.toMatchObject({ code: 'ERR_REQUEST_CANCELLED' });
    const done = Request.from(Promise.resolve(7));
    expect(await done.wait()).toBe(7);
    expect([done.test(), done.cancel()]).toEqual([true, false]);
  });
});
