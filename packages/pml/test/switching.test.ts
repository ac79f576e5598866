import { describe, expect, it } from 'vitest';
import type { Bml, BtlModule } from '@switchyard/core-bml';
import { fabric, payload, stream } from './memory-fabric.js';

const FAST = { name: 'fast', exclusivity: 1024, latency: 1, bandwidth: 10_000, maxSendSize: 8192, reorder: true };
const SLOW = { name: 'slow', exclusivity: 100, latency: 100, bandwidth: 1000, maxSendSize: 4096, highWater: 8 };

const onAll = (bmls: Bml[], f: (b: Bml) => Promise<unknown>) => Promise.all(bmls.map(f));
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('switching transports under traffic (BML drain + PML ordering)', () => {
  it('moves traffic off a transport and back, drained, with every message once and in order', async () => {
    const { bmls, pmls, modules } = await fabric(2, [FAST, SLOW]);
    const a = stream(pmls, 0, 1);
    const b = stream(pmls, 1, 0);
    const fastSent = () => modules[0]!.reduce((n, m) => n + m.sent, 0);
    for (let cycle = 0; cycle < 10; cycle++) {
      await tick();
      // switch slow: only slow carries traffic; the links that lost it are drained.
      await onAll(bmls, (bml) => bml.drain(bml.setPolicy((_, c) => c === 'slow')));
      for (const bml of bmls) {
        expect(bml.endpoints[1 - bml.rank]!.send.map((l) => l.module.component)).toEqual(['slow']);
        for (const l of bml.endpoints[1 - bml.rank]!.btls.filter((x) => x.module.component === 'fast')) expect(l.inFlight).toBe(0);
      }
      const before = fastSent();
      await tick();
      expect(fastSent()).toBe(before);
      // reset: back to the configured policy, fast wins by exclusivity.
      await onAll(bmls, (bml) => bml.drain(bml.setPolicy(() => true)));
      expect(bmls[0]!.endpoints[1]!.send.map((l) => l.module.component)).toEqual(['fast']);
    }
    const [ra, rb] = [await a.end(), await b.end()];
    expect(ra).toMatchObject({ bad: 0 });
    expect(ra.received).toBe(ra.sent);
    expect(rb.received).toBe(rb.sent);
    expect(rb.bad).toBe(0);
    expect(ra.sent).toBeGreaterThan(100);
  });

  it('unloads a transport and loads a new instance; the first message after switching back arrives, both ways', async () => {
    const { bmls, pmls, modules, load } = await fabric(2, [FAST, SLOW]);
    const a = stream(pmls, 0, 1);
    const b = stream(pmls, 1, 0);
    let fast: BtlModule[] = modules[0]!;
    for (let cycle = 0; cycle < 5; cycle++) {
      await tick();
      const removed = await onAll(bmls, (bml) => bml.removeModule(fast[bml.rank]!));
      expect(removed).toEqual([true, true]);
      expect(bmls[0]!.modules().map((m) => m.component)).toEqual(['slow']);
      await tick();
      fast = await load(FAST);
      // The very next exchange, each way, on the new module.
      const before = (fast[0] as unknown as { sent: number }).sent;
      await pmls[0]!.isend(Buffer.from(`first-${cycle}`), 1, 2).wait();
      await pmls[1]!.isend(Buffer.from(`back-${cycle}`), 0, 2).wait();
      expect(Buffer.from((await pmls[1]!.irecv(0, 2).wait()).data).toString()).toBe(`first-${cycle}`);
      expect(Buffer.from((await pmls[0]!.irecv(1, 2).wait()).data).toString()).toBe(`back-${cycle}`);
      expect((fast[0] as unknown as { sent: number }).sent).toBeGreaterThan(before);
    }
    const [ra, rb] = [await a.end(), await b.end()];
    expect([ra.bad, rb.bad]).toEqual([0, 0]);
    expect([ra.received, rb.received]).toEqual([ra.sent, rb.sent]);
  });

  it('holds a rendezvous ACK while no transport reaches the sender, and sends it once one is loaded', async () => {
    const ONLY = { name: 'only', eagerLimit: 4096, maxSendSize: 8192 };
    const { bmls, pmls, modules, load } = await fabric(2, [ONLY]);
    const big = payload(50_000, 5);
    const send = pmls[0]!.isend(big, 1, 3);
    while (!pmls[1]!.iprobe(0, 3)) await tick();
    // A restart re-wiring the only transport: matching the waiting rendezvous needs an ACK now.
    await onAll(bmls, (bml) => bml.removeModule(modules[0]![bml.rank]!));
    const recv = pmls[1]!.irecv(0, 3);
    await tick();
    expect(recv.completed).toBe(false);
    await load(ONLY);
    expect(Buffer.from((await recv.wait()).data).equals(Buffer.from(big))).toBe(true);
    await send.wait();
  });

  it('knows when a policy would leave a peer unreachable', async () => {
    const { bmls } = await fabric(2, [FAST, SLOW]);
    expect(bmls[0]!.unreachableUnder((_, c) => c === 'none')).toEqual([0, 1]);
    expect(bmls[0]!.unreachableUnder((rank, c) => rank === 0 || c === 'slow')).toEqual([]);
  });
});
