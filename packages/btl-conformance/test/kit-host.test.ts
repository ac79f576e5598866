import { describe, expect, it } from 'vitest';
import type { BtlEndpoint, BtlModule, BtlProc } from '@switchyard/btl-interface';
import { KitHost } from '../src/rank/kit-host.js';

describe("the kit's host", () => {
  it('names a fragment handed up before addProcs resolved as early, once, not as a foreign endpoint', async () => {
    const host = new KitHost();
    const module = { name: 'early:0' } as BtlModule;
    const endpoint: BtlEndpoint = { rank: 1, module };
    // A module that releases what it held for rank 1 a microtask after addProcs returns: before
    // the caller of addProcs (the BML, the kit) has taken the endpoint.
    const addProcs = async (procs: readonly BtlProc[]): Promise<BtlEndpoint[]> => {
      queueMicrotask(() => {
        for (let i = 0; i < 5; i++) host.receive(endpoint, 0x80, new Uint8Array(4));
      });
      return procs.map(() => endpoint);
    };
    const list = await host.adding(() => addProcs([{ rank: 1, hostname: 'h', local: true, cards: [{}] }]));
    host.added(list[0]!, 1, module);
    const strays = host.takeStrays();
    expect(strays).toHaveLength(1);
    expect(strays[0]).toMatch(/^host\.receive was given an endpoint \(rank 1\) before the addProcs that returns it had resolved/);
  });

  it('still names an endpoint no addProcs returned, once', () => {
    const host = new KitHost();
    const endpoint: BtlEndpoint = { rank: 2, module: { name: 'x:0' } as BtlModule };
    host.receive(endpoint, 0x80, new Uint8Array(1));
    host.receive(endpoint, 0x80, new Uint8Array(1));
    expect(host.takeStrays()).toEqual(['host.receive was given an endpoint (rank 2) that no addProcs of this module returned']);
  });
});
