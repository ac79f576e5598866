import { describe, expect, it } from 'vitest';
import { Exclusivity, type BtlHost } from '@switchyard/btl-interface';
import { SelfModule } from '../src/index.js';

describe('btl self reachability', () => {
  it('reaches only its own rank and says why every other rank is unreachable', async () => {
    const logs: string[] = [];
    const host: BtlHost = { receive() {}, writable() {}, error() {}, log: (m) => logs.push(m) };
    const self = new SelfModule(1, host, {
      exclusivity: Exclusivity.HIGH,
      latency: 0,
      bandwidth: 100_000,
      eagerLimit: 1024,
      maxSendSize: 4096,
    });
    const endpoints = await self.addProcs([
      { rank: 0, hostname: 'node1', local: true, cards: [] },
      { rank: 1, hostname: 'node1', local: true, cards: [] },
      { rank: 2, hostname: 'node2', local: false, cards: [] },
    ]);
    expect(endpoints.map((e) => e?.rank)).toEqual([undefined, 1, undefined]);
    expect(logs).toEqual([
      'btl self: rank 0 is unreachable: self reaches only this rank (1)',
      'btl self: rank 2 on node2 is unreachable: self reaches only this rank (1)',
    ]);
    await self.finalize();
  });
});
