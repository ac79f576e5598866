import { describe, expect, it } from 'vitest';
import { unreachableBecause, type OpenibCard, type PortInfo } from '../src/index.js';

const softPort: PortInfo = {
  port: 1,
  state: 'ACTIVE',
  lid: 0,
  gid: 'fe80:0000:0000:0000:0000:0000:0000:0001',
  mtu: 4096,
  linkLayer: 'ETHERNET',
} as PortInfo;
const card = (over: Partial<OpenibCard> = {}): OpenibCard => ({
  provider: 'soft',
  hostname: 'node2',
  device: 'soft0',
  port: 1,
  lid: 0,
  gid: 'fe80:0000:0000:0000:0000:0000:0000:0002',
  linkLayer: 'ETHERNET',
  mtu: 4096,
  qpns: [0, 7],
  recvBuffers: 16,
  maxSendSize: 65536,
  ...over,
});

describe('openib reachability', () => {
  const own = { provider: 'soft' as const, port: softPort };

  it('the soft provider reaches a peer on this host', () => {
    expect(unreachableBecause(own, card(), true)).toBeUndefined();
  });

  it('the soft provider reports a peer on another host unreachable, saying why', () => {
    expect(unreachableBecause(own, card(), false)).toMatch(/another host \(node2\).*soft provider reaches only this one/);
  });

  it('never mixes providers or link layers', () => {
    expect(unreachableBecause(own, card({ provider: 'native' }), true)).toMatch(/native provider, ours on soft/);
    expect(unreachableBecause(own, card({ linkLayer: 'INFINIBAND' }), true)).toMatch(/link layer is INFINIBAND/);
  });

  it('a native port reaches a remote peer on its GID subnet only', () => {
    const native = { provider: 'native' as const, port: { ...softPort, gid: 'fe80:0000:0000:0000:0000:0000:0000:0001' } };
    expect(unreachableBecause(native, card({ provider: 'native' }), false)).toBeUndefined();
    expect(unreachableBecause(native, card({ provider: 'native', gid: 'fd00:0000:0000:0001:0000:0000:0000:0002' }), false)).toMatch(/GID subnet/);
  });
});
