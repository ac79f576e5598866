import { afterEach, describe, expect, it } from 'vitest';
import { nodeKey, Transports, type ModexEntry } from '../src/index.js';
import { probeMca, removeProbeRoots } from './probe-component.js';

afterEach(removeProbeRoots);

/** Starts rank 0 of a 4-rank job whose other ranks published `others`; returns what the module saw. */
async function localFlags(identity: { hostname: string; node?: string }, others: ModexEntry[]) {
  const { mca, seen } = await probeMca();
  const transports = new Transports(mca, { jobId: 'j', rank: 0, size: 1 + others.length, secret: 's', ...identity }, async (mine) => [
    mine,
    ...others,
  ]);
  // No stop(): it would drain links with peers that exist only in this modex.
  await transports.start();
  return (await seen()).map((p) => p.local);
}

describe('which peers are on this host', () => {
  const card = { probe: [{}] };

  it('decides by node key: host name, kernel and network namespace, not the host name alone', async () => {
    const here = nodeKey('node1', { bootId: 'b1', netns: 'net:[1]' });
    const flags = await localFlags({ hostname: 'node1', node: here }, [
      { hostname: 'node1', node: here, btl: card },
      // Two network namespaces of one machine that share a host name: not one host.
      { hostname: 'node1', node: nodeKey('node1', { bootId: 'b1', netns: 'net:[2]' }), btl: card },
      // Another machine whose first namespace has the same id as ours.
      { hostname: 'node2', node: nodeKey('node2', { bootId: 'b2', netns: 'net:[1]' }), btl: card },
    ]);
    expect(flags).toEqual([true, true, false, false]);
  });

  it('publishes its node key, by default from this process (so ranks of one process tree agree)', async () => {
    const published: ModexEntry[] = [];
    const { mca } = await probeMca();
    const transports = new Transports(mca, { jobId: 'j', rank: 0, size: 1, hostname: 'h', secret: 's' }, async (mine) => {
      published.push(mine);
      return [mine];
    });
    await transports.start();
    expect(published[0]!.node).toBe(nodeKey('h'));
    expect(nodeKey('h')).toMatch(/^h\|/);
  });

  it('falls back to the host name for a peer that publishes no node key', async () => {
    const flags = await localFlags({ hostname: 'a' }, [
      { hostname: 'a', btl: card },
      { hostname: 'b', btl: card },
    ]);
    expect(flags).toEqual([true, true, false]);
  });
});
