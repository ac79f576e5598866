import { afterEach, describe, expect, it } from 'vitest';
import { Transports } from '../src/index.js';
import { PeerModule, procs } from './peer-module.js';
import { probeMca, removeProbeRoots } from './probe-component.js';

afterEach(removeProbeRoots);

/** Rank 0 of 2, with 'fast' and 'slow' modules reaching rank 1. */
async function twoTransports() {
  const { mca } = await probeMca();
  const transports = new Transports(mca, { jobId: 'j', rank: 0, size: 2, hostname: 'here', secret: 's' }, async (mine) => [mine, mine]);
  const fast = new PeerModule('fast', { exclusivity: 1000 });
  await transports.bml.addModule(fast, procs);
  await transports.bml.addModule(new PeerModule('slow'), procs);
  return { transports, fast, link: transports.bml.endpoints[1]!.btls.find((b) => b.module === fast)! };
}

describe('a switch refused because a peer would have no transport', () => {
  const onlyFast = (_peer: number, component: string) => component === 'fast';

  it('names the failed link of the transport asked for, with its error', async () => {
    const { transports, fast } = await twoTransports();
    transports.bml.host.error({ module: fast, endpoint: fast.endpoint, severity: 'endpoint', error: new Error('read ECONNRESET') });
    expect(transports.checkPolicy(onlyFast)).toBe(
      'rank 0 would have no transport to rank(s) 1; its fast:0 links to rank(s) 1 are down (read ECONNRESET), ' +
        'until they come back (probed every bml_recovery_interval)',
    );
    transports.bml.stopFailover();
  });

  it('says a link being unloaded is why, and to try again once that is done', async () => {
    const { transports, link } = await twoTransports();
    link.retired = true;
    expect(transports.checkPolicy(onlyFast)).toBe(
      'rank 0 would have no transport to rank(s) 1; its fast:0 links to rank(s) 1 are being unloaded ' +
        '(a load or unload of fast is in progress; try again once it is done)',
    );
  });
});

describe('a verb that needs a link that was reset', () => {
  const onlyFast = (_peer: number, component: string) => component === 'fast';
  const reset = (transports: Transports, fast: PeerModule) =>
    transports.bml.host.error({ module: fast, endpoint: fast.endpoint, severity: 'endpoint', error: new Error('read ECONNRESET') });

  it('probes it again when it failed again after the first probe brought it back', async () => {
    const { transports, fast, link } = await twoTransports();
    reset(transports, fast);
    let probes = 0;
    // The first probe's connection comes back and is reset again before the verb looks (ss -K twice);
    // the second one's stays.
    transports.bml.probeFailedLinks = () => {
      probes += 1;
      if (probes > 1) return link.recover(0);
      setTimeout(() => {
        link.recover(0);
        reset(transports, fast);
      }, 5);
    };
    await new Promise((r) => setTimeout(r, 5));
    expect(await transports.checkPolicySoon(onlyFast, 1000)).toBeUndefined();
    expect(probes).toBe(2);
    transports.bml.stopFailover();
  });
});
