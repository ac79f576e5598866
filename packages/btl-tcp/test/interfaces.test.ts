import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import component, { candidateAddresses, checkInterfaceItem, parseCard, parseCidr, selectAddresses, type TcpCard } from '../src/index.js';
import { RecordingHost, startJob, startRank, stopAll, tcpParams } from './helpers.js';

function iface(address: string, cidr: string, internal = false): NetworkInterfaceInfo {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  return {
    address,
    cidr,
    family,
    internal,
    mac: '00:00:00:00:00:00',
    netmask: '',
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  } as NetworkInterfaceInfo;
}

const FAKE = {
  lo: [iface('127.0.0.1', '127.0.0.1/8', true), iface('::1', '::1/128', true)],
  eth0: [iface('10.1.2.3', '10.1.2.3/16'), iface('fd00::3', 'fd00::3/64'), iface('fe80::1', 'fe80::1/64')],
  ib0: [iface('192.168.50.7', '192.168.50.7/24')],
};

describe('interface selection', () => {
  it('defaults to loopback plus every interface that is up, without IPv6 link-local', () => {
    const { addresses } = selectAddresses([], [], FAKE);
    expect(addresses.map((a) => a.address)).toEqual(['127.0.0.1', '::1', '10.1.2.3', 'fd00::3', '192.168.50.7']);
    expect(addresses.filter((a) => a.loopback).map((a) => a.interface)).toEqual(['lo', 'lo']);
  });

  it('parses CIDRs of both families and refuses malformed list items', () => {
    expect(parseCidr('10.77.0.0/24')).toEqual({ address: '10.77.0.0', prefix: 24, family: 'IPv4' });
    expect(parseCidr('fd00::/64')).toEqual({ address: 'fd00::', prefix: 64, family: 'IPv6' });
    for (const bad of ['10.77.0.0', '10.77.0.0/33', 'fd00::/129', 'eth0/24', '10.77.0.0/x']) expect(parseCidr(bad), bad).toBeUndefined();
    expect(checkInterfaceItem('sy-veth1')).toBeUndefined();
    expect(checkInterfaceItem('10.77.0.0/24')).toBeUndefined();
    expect(checkInterfaceItem('10.77.0.0/40')).toMatch(/not a valid CIDR/);
    expect(checkInterfaceItem('')).toMatch(/empty item/);
  });

  it('selects a namespace host\'s veth by CIDR or by name, and a single address', () => {
    const ns = { lo: [iface('127.0.0.1', '127.0.0.1/8', true)], 'sy-veth1': [iface('10.77.0.1', '10.77.0.1/24')] };
    expect(selectAddresses(['10.77.0.0/24'], [], ns).addresses.map((a) => a.interface)).toEqual(['sy-veth1']);
    expect(selectAddresses(['sy-veth1'], [], ns).addresses.map((a) => a.cidr)).toEqual(['10.77.0.1/24']);
    expect(selectAddresses(['10.77.0.1'], [], ns).addresses.map((a) => a.address)).toEqual(['10.77.0.1']);
    expect(selectAddresses([], ['lo'], ns).addresses.map((a) => a.address)).toEqual(['10.77.0.1']);
    // A CIDR of the wrong family or another network selects nothing, and says so.
    expect(selectAddresses(['10.78.0.0/24', 'fd00::/64'], [], ns)).toEqual({ addresses: [], unmatched: ['10.78.0.0/24', 'fd00::/64'] });
  });

  it('includes or excludes by name and by CIDR, and reports items that match nothing', () => {
    expect(selectAddresses(['lo'], [], FAKE).addresses.map((a) => a.address)).toEqual(['127.0.0.1', '::1']);
    expect(selectAddresses(['10.1.0.0/16', 'ib0'], [], FAKE).addresses.map((a) => a.address)).toEqual(['10.1.2.3', '192.168.50.7']);
    expect(selectAddresses([], ['eth0', '127.0.0.0/8'], FAKE).addresses.map((a) => a.address)).toEqual(['::1', '192.168.50.7']);
    expect(selectAddresses(['eth9', 'lo'], [], FAKE).unmatched).toEqual(['eth9']);
  });
});

describe('reachability', () => {
  const card = (addresses: Array<[string, number, string]>): TcpCard => ({
    hostname: 'h',
    maxSendSize: 0,
    addresses: addresses.map(([address, port, cidr]) => ({ address, port, cidr, family: address.includes(':') ? 'IPv6' : 'IPv4' })),
  });
  const mine = card([
    ['127.0.0.1', 1000, '127.0.0.1/8'],
    ['10.1.2.3', 1001, '10.1.2.3/16'],
  ]);

  it('calls a peer on this host on loopback when both publish it', () => {
    const theirs = card([
      ['::1', 2001, '::1/128'],
      ['127.0.0.1', 2000, '127.0.0.1/8'],
      ['10.1.9.9', 2002, '10.1.9.9/16'],
    ]);
    expect(candidateAddresses(mine, theirs, true).map((a) => a.address)).toEqual(['127.0.0.1', '::1']);
  });

  it('calls a remote peer only on a network both share, never on its loopback', () => {
    const theirs = card([
      ['127.0.0.1', 2000, '127.0.0.1/8'],
      ['172.16.0.5', 2003, '172.16.0.5/24'],
      ['10.1.9.9', 2002, '10.1.9.9/16'],
    ]);
    expect(candidateAddresses(mine, theirs, false).map((a) => `${a.address}:${a.port}`)).toEqual(['10.1.9.9:2002']);
    // Same address bits but another prefix length is another network.
    expect(candidateAddresses(mine, card([['10.1.9.9', 2002, '10.1.9.9/24']]), false)).toEqual([]);
    expect(candidateAddresses(mine, card([['127.0.0.1', 2000, '127.0.0.1/8']]), false)).toEqual([]);
  });

  it('falls back to a shared network for a local peer without loopback', () => {
    const theirs = card([['10.1.0.77', 2002, '10.1.0.77/16']]);
    expect(candidateAddresses(mine, theirs, true).map((a) => a.address)).toEqual(['10.1.0.77']);
  });

  it('between two namespace hosts joined by a veth pair: the veth network, never loopback', () => {
    // As scripts/vcluster.sh builds them: each host has its own 127.0.0.1 and one veth address.
    const node1 = card([
      ['127.0.0.1', 3000, '127.0.0.1/8'],
      ['10.77.0.1', 3001, '10.77.0.1/24'],
    ]);
    const node2 = card([
      ['127.0.0.1', 4000, '127.0.0.1/8'],
      ['10.77.0.2', 4001, '10.77.0.2/24'],
    ]);
    expect(candidateAddresses(node1, node2, false).map((a) => `${a.address}:${a.port}`)).toEqual(['10.77.0.2:4001']);
    expect(candidateAddresses(node2, node1, false).map((a) => `${a.address}:${a.port}`)).toEqual(['10.77.0.1:3001']);
    // Two ranks of one namespace host talk over loopback.
    expect(candidateAddresses(node1, node1, true).map((a) => a.address)).toEqual(['127.0.0.1']);
  });

  it('finds no way between hosts on different networks, and every way they share', () => {
    const a = card([
      ['127.0.0.1', 3000, '127.0.0.1/8'],
      ['10.77.0.1', 3001, '10.77.0.1/24'],
    ]);
    expect(candidateAddresses(a, card([['10.78.0.2', 4001, '10.78.0.2/24']]), false)).toEqual([]);
    // Multi-homed peer: both shared networks are candidates, in our interface order; its other network is not.
    const multi = card([
      ['127.0.0.1', 3000, '127.0.0.1/8'],
      ['192.168.9.1', 3002, '192.168.9.1/24'],
      ['10.77.0.1', 3001, '10.77.0.1/24'],
    ]);
    const peer = card([
      ['10.77.0.9', 5000, '10.77.0.9/24'],
      ['172.20.0.9', 5001, '172.20.0.9/16'],
      ['192.168.9.9', 5002, '192.168.9.9/24'],
    ]);
    expect(candidateAddresses(multi, peer, false).map((a) => a.address)).toEqual(['192.168.9.9', '10.77.0.9']);
  });

  it('refuses malformed business cards', () => {
    expect(parseCard(null)).toHaveProperty('problem');
    expect(parseCard({ hostname: 'h', addresses: [{ address: 'not-an-ip', family: 'IPv4', port: 1, cidr: 'x' }] })).toHaveProperty(
      'problem',
    );
    expect(parseCard({ hostname: 'h', addresses: [{ address: '::1', family: 'IPv4', port: 1, cidr: '::1/128' }] })).toHaveProperty(
      'problem',
    );
    expect(
      parseCard({ hostname: 'h', addresses: [{ address: '127.0.0.1', family: 'IPv4', port: 70000, cidr: '127.0.0.1/8' }] }),
    ).toHaveProperty('problem');
    expect(parseCard({ hostname: 'h', addresses: [] })).toEqual({ card: { hostname: 'h', addresses: [], maxSendSize: 0 } });
  });
});

describe('component parameters and open', () => {
  const openCtx = (settings: Record<string, unknown>, logs: string[] = []) => ({
    framework: 'btl',
    component: 'tcp',
    params: tcpParams(settings),
    log: (m: string) => logs.push(m),
  });

  it('registers every parameter with help and its default (Open MPI\'s, except the measured eager and fragment sizes)', () => {
    const p = tcpParams();
    expect(p.get('exclusivity')).toBe(100);
    expect(p.get('latency')).toBe(100);
    expect(p.get('bandwidth')).toBe(10000);
    expect(p.get('eager_limit')).toBe(512 * 1024);
    expect(p.get('max_send_size')).toBe(1024 * 1024);
    expect(p.get('high_water_mark')).toBe(4 * 1024 * 1024);
    expect(p.get('port_min')).toBe(0);
    expect(p.get('nodelay')).toBe(true);
    expect(p.get('handshake_timeout')).toBe(5000);
    expect(p.get('if_include')).toEqual([]);
    expect(tcpParams({ eager_limit: '32k', if_include: 'lo, 10.0.0.0/8' }).get('if_include')).toEqual(['lo', '10.0.0.0/8']);
    expect(() => tcpParams({ if_include: '10.0.0.0/33' })).toThrow(/not a valid CIDR/);
  });

  it('raises a clear error from open when if_include and if_exclude are both set', async () => {
    await expect(async () => component.open!(openCtx({ if_include: 'lo', if_exclude: 'eth0' }))).rejects.toThrow(
      /btl_tcp_if_include \(lo\) and btl_tcp_if_exclude \(eth0\) are mutually exclusive/,
    );
    await expect(async () => component.open!(openCtx({ eager_limit: '2m' }))).rejects.toThrow(/eager_limit .* must not exceed/);
  });

  it('declines when if_include matches no interface, naming the parameter', async () => {
    const logs: string[] = [];
    const result = await component.open!(openCtx({ if_include: 'nosuchif0' }, logs));
    expect(result).toEqual({ available: false, reason: expect.stringMatching(/btl_tcp_if_include=nosuchif0/) });
    expect(logs.join('\n')).toMatch(/'nosuchif0' matches no interface/);
  });

  it('if_include=lo listens on and publishes loopback only', async () => {
    const rank = await startRank(0, 1, { settings: { if_include: 'lo' } });
    try {
      expect(rank.card.addresses.length).toBeGreaterThan(0);
      for (const a of rank.card.addresses) expect(a.address === '::1' || a.address.startsWith('127.')).toBe(true);
      expect(rank.card).toMatchObject({ hostname: 'testhost' });
    } finally {
      await rank.module.finalize();
    }
  });

  it('listens within port_min .. port_min + port_range - 1, skipping ports in use', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const rank = await startRank(0, 1, { settings: { if_include: '127.0.0.0/8', port_min: taken, port_range: 20 } });
      try {
        expect(rank.card.addresses).toHaveLength(1);
        const { port } = rank.card.addresses[0]!;
        expect(port).toBeGreaterThan(taken);
        expect(port).toBeLessThan(taken + 20);
      } finally {
        await rank.module.finalize();
      }
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('describes the module as Open MPI tcp does: flags, limits, checkpointable', async () => {
    const [r] = await startJob(1, { settings: { if_include: 'lo', eager_limit: '32k' } });
    try {
      expect(component.checkpointable).toBe(true);
      expect(r!.module).toMatchObject({
        component: 'tcp',
        exclusivity: 100,
        latency: 100,
        bandwidth: 10000,
        eagerLimit: 32 * 1024,
        maxSendSize: 1024 * 1024,
      });
      expect(r!.module.flags).toBe(0x1 | 0x8 | 0x1000_0000);
      expect(JSON.parse(JSON.stringify(r!.module.businessCard))).toEqual(r!.module.businessCard);
    } finally {
      await stopAll([r!]);
    }
  });

  it('gives no endpoint for itself, a peer without a card, or a remote peer on a network we do not have', async () => {
    const r = await startRank(0, 4);
    const host = r.host as RecordingHost;
    try {
      const foreign = {
        hostname: 'elsewhere',
        addresses: [{ address: '10.99.0.5', family: 'IPv4', port: 4242, cidr: '10.99.0.5/24' }],
        maxSendSize: 131072,
      };
      const eps = await r.module.addProcs([
        { rank: 0, hostname: 'testhost', local: true, cards: [r.card] },
        { rank: 1, hostname: 'elsewhere', local: false, cards: [foreign] },
        { rank: 2, hostname: 'testhost', local: true, cards: [] },
        {
          rank: 3,
          hostname: 'elsewhere',
          local: false,
          cards: [{ ...foreign, addresses: [{ ...foreign.addresses[0], address: '127.0.0.1', cidr: '127.0.0.1/8' }] }],
        },
      ]);
      expect(eps).toEqual([undefined, undefined, undefined, undefined]);
      expect(host.logged(/rank 1 on elsewhere is unreachable: no network in common/)).toBe(true);
      expect(r.module.connections()).toEqual([]);
    } finally {
      await r.module.finalize();
    }
  });
});
