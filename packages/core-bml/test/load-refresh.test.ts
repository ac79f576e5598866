import { afterEach, describe, expect, it } from 'vitest';
import { Transports, type ModexEntry } from '../src/index.js';
import { PROBE, probeMca, removeProbeRoots } from './probe-component.js';

afterEach(removeProbeRoots);

// The probe whose refreshBusinessCard throws, as openib's does on a device reset it has not heard of yet.
const DEAD_REFRESH = PROBE.replace('businessCard: { rank: ctx.rank },', `businessCard: { rank: ctx.rank },
    refreshBusinessCard() { throw new Error('ibv_create_qp failed: Input/output error'); },`);

describe('a load on other ranks, while a module staying loaded here cannot make new connection state', () => {
  it('fails the verb on every rank with this rank\'s reason, said in the exchange instead of leaving the peers waiting there', async () => {
    const { mca } = await probeMca(DEAD_REFRESH);
    const published: Array<{ name: string; entry: ModexEntry }> = [];
    // Rank 1 of 2; rank 0 loads the component anew.
    const peer = (name: string): ModexEntry =>
      ({ hostname: 'h', btl: { probe: [{ rank: 0 }] }, ...(name === 'btl-modex' ? {} : { fresh: true }) });
    const transports = new Transports(mca, { jobId: 'j', rank: 1, size: 2, hostname: 'h', secret: 's' }, async (mine, name) => {
      published.push({ name, entry: mine });
      return [peer(name), mine];
    });
    await transports.start();
    await expect(transports.load('probe', new Set([0]), 'ctl-load-1')).rejects.toThrow(
      "rank 1: preparing btl 'probe' for the ranks loading it anew failed: ibv_create_qp failed: Input/output error",
    );
    expect(published.map((p) => p.name)).toEqual(['btl-modex', 'ctl-load-1:fresh', 'ctl-load-1']);
    expect(published.at(-1)!.entry.error).toMatch(/^rank 1: preparing btl 'probe'/);
  });
});
