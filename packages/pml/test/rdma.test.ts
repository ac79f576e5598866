import { describe, expect, it } from 'vitest';
import { fabric, payload, type FabricSpec } from './memory-fabric.js';

const MiB = 1024 * 1024;
// Eager up to 4 KiB; larger messages go as RGET over a module with get and put.
const rdma = (options: NonNullable<FabricSpec['rdma']>) => [{ name: 'cma', rdma: options }];

describe('the RDMA protocol, split between the two processes', () => {
  it('from splitGetMin the receiver gets the first half and the sender puts the second: the message arrives whole', async () => {
    const { pmls, modules } = await fabric(2, rdma({ splitGetMin: 512 * 1024 }));
    const data = payload(MiB + 12_345, 1);
    const sending = pmls[0]!.isend(data, 1, 9).wait();
    const m = await pmls[1]!.irecv(0, 9).wait();
    await sending;
    expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
    const half = Math.floor((MiB + 12_345) / 2 / 4096) * 4096;
    expect(pmls[1]!.rdmaStats()).toMatchObject({ pulled: 1, pulledBytes: half, fallbacks: 0 });
    expect(pmls[0]!.rdmaStats()).toMatchObject({ rgetSent: 1, put: 1, putBytes: MiB + 12_345 - half });
    // A buffer made for the message is registered for it alone: nothing of the receiver's stays registered.
    expect(modules[0]![1]!.registered.size).toBe(0);
  });

  it('receives into the caller\'s buffer the same way, registering it for each message alone', async () => {
    const { pmls, modules } = await fabric(2, rdma({ splitGetMin: 512 * 1024 }));
    const into = Buffer.alloc(2 * MiB);
    for (let i = 0; i < 3; i++) {
      const data = payload(2 * MiB, 10 + i);
      const sending = pmls[0]!.isend(data, 1, 9).wait();
      const m = await pmls[1]!.irecv(0, 9, 0, into).wait();
      await sending;
      expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
    }
    expect(pmls[0]!.rdmaStats()).toMatchObject({ put: 3, putBytes: 3 * MiB });
    expect(pmls[1]!.rdmaStats()).toMatchObject({ pulled: 3, fallbacks: 0, takenBack: 0 });
    // A registration the peer may write into is not left behind for the next message.
    expect(modules[0]![1]!.registered.size).toBe(0);
  });

  it('takes the second half back when the sender does not begin its put (it computes): the receive does not wait for it', async () => {
    const { pmls, modules } = await fabric(2, rdma({ splitGetMin: 512 * 1024, putLateMs: 2_000 }));
    const data = payload(MiB, 21);
    const sending = pmls[0]!.isend(data, 1, 9).wait();
    const m = await pmls[1]!.irecv(0, 9).wait();
    // Received before the sender's put began (it begins 2 s after it was asked).
    expect(modules[0]![0]!.putsBegun).toBe(0);
    expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
    expect(pmls[1]!.rdmaStats()).toMatchObject({ pulled: 1, pulledBytes: MiB, takenBack: 1, fallbacks: 0 });
    expect(modules[0]![1]!.registered.size).toBe(0);
    await sending;
    // The late put found the registration revoked: nothing was written after the receive completed.
    expect(pmls[0]!.rdmaStats()).toMatchObject({ put: 0 });
  });

  it('waits for a put that has begun, however slow: the registration cannot be revoked under it', async () => {
    const { pmls, modules } = await fabric(2, rdma({ splitGetMin: 512 * 1024, putSlowMs: 50 }));
    const data = payload(MiB, 22);
    const sending = pmls[0]!.isend(data, 1, 9).wait();
    const m = await pmls[1]!.irecv(0, 9).wait();
    await sending;
    expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
    expect(pmls[1]!.rdmaStats()).toMatchObject({ pulled: 1, pulledBytes: MiB / 2, takenBack: 0 });
    expect(pmls[0]!.rdmaStats()).toMatchObject({ put: 1, putBytes: MiB / 2 });
    expect(modules[0]![1]!.registered.size).toBe(0);
  });

  it('below splitGetMin, or without one, the receiver gets it all', async () => {
    for (const splitGetMin of [undefined, 4 * MiB]) {
      const { pmls } = await fabric(2, rdma({ splitGetMin }));
      const data = payload(MiB, 3);
      const sending = pmls[0]!.isend(data, 1, 9).wait();
      const m = await pmls[1]!.irecv(0, 9).wait();
      await sending;
      expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
      expect(pmls[1]!.rdmaStats()).toMatchObject({ pulled: 1, pulledBytes: MiB });
      expect(pmls[0]!.rdmaStats()).toMatchObject({ put: 0 });
    }
  });

  it.each(['put', 'get'] as const)('a failed %s sends the whole message by fragments, once, intact; nothing registered', async (fail) => {
    const { pmls, modules } = await fabric(2, rdma({ splitGetMin: 512 * 1024, fail }));
    const messages = [payload(MiB, 4), payload(3 * MiB + 1, 5)];
    const sending = messages.map((d) => pmls[0]!.isend(d, 1, 9).wait());
    for (const data of messages) {
      const m = await pmls[1]!.irecv(0, 9).wait();
      expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true);
    }
    await Promise.all(sending);
    // The receiver falls back when the FIN says the put failed, or takes the half back first if it
    // is late: either way every message once, intact.
    const { pulled, fallbacks, takenBack } = pmls[1]!.rdmaStats();
    expect(pulled + fallbacks).toBe(2);
    if (fail === 'get') expect(fallbacks).toBe(2);
    else expect(takenBack).toBe(pulled);
    expect(modules[0]![1]!.registered.size).toBe(0);
    expect(pmls[1]!.iprobe(0, 9)).toBeUndefined();
  });
});

describe('a split pull when its link fails', () => {
  const CMA = { name: 'cma', exclusivity: 1024, rdma: { splitGetMin: 512 * 1024 } };
  const WIRE = { name: 'wire', exclusivity: 100, maxSendSize: 65_536 };

  // The link is cut from inside the protocol: as the receiver starts its get (the PUT request is
  // on its way), or as the sender starts its put (the FIN is still to go).
  it.each([
    ['the receiver starts its get', 1, 'get'],
    ['the sender starts its put', 0, 'put'],
  ] as const)('cut as %s: both messages once, in order, intact; nothing stays registered', async (_, rank, op) => {
    const { pmls, modules } = await fabric(2, [CMA, WIRE]);
    const module = modules[0]![rank]!;
    type Copy = NonNullable<typeof module.get>;
    const original: Copy = module[op]!.bind(module);
    let cuts = 0;
    module[op] = (endpoint, local, remote, offset, done) => {
      if (cuts++ === 0) module.cut(1 - rank);
      original(endpoint, local, remote, offset, done);
    };
    const messages = [payload(MiB, 6), payload(MiB + 4096, 7), payload(2 * MiB, 8)];
    const sending = messages.map((d) => pmls[0]!.isend(d, 1, 9).wait());
    const received = await Promise.all(messages.map(() => pmls[1]!.irecv(0, 9).wait()));
    await Promise.all(sending);
    expect(cuts).toBeGreaterThan(0);
    received.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(messages[i]!)), `message ${i}`).toBe(true));
    expect(modules[0]![1]!.registered.size).toBe(0);
    expect(pmls[1]!.iprobe(0, 9)).toBeUndefined();
  });
});
