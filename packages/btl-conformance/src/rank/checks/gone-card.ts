import type { BtlEndpoint } from '@switchyard/btl-interface';
import type { KitHost } from '../kit-host.js';
import { bounded, callLimitMs, PendingCallError } from '../pending.js';
import type { Wiring } from '../wiring.js';

/**
 * connected() (API 1.1) of a peer nobody answers for settles: it resolves once the link is up or
 * given up, bounded by the module's own timeout. The peer is a lost rank as its old card names it:
 * its module was finalized, so nothing listens at that address any more (a stale address, a
 * listener gone). One that waits only for the connection's success stays pending for ever, and
 * the BML, which sends on a link only once connected() resolved, waits with it. Leaves nothing:
 * the endpoints it made are deleted again.
 */
export async function goneCardProblems(wiring: Wiring, host: KitHost, lost: ReadonlySet<number>, waitMs: number): Promise<string[]> {
  const procs = wiring.procs.filter((p) => lost.has(p.rank));
  const limit = callLimitMs(waitMs);
  const v: string[] = [];
  for (const module of wiring.modules) {
    if (typeof module.connected !== 'function' || !procs.length) continue;
    const what = `'${module.name}'.addProcs() with the old card of rank(s) ${[...lost].join(', ')} (its module finalized)`;
    let list: Array<BtlEndpoint | undefined>;
    try {
      list = await bounded(what, module.addProcs(procs), limit);
    } catch (error) {
      v.push(error instanceof PendingCallError ? error.message : `${what} threw: ${(error as Error)?.message}`);
      continue;
    }
    const added = (Array.isArray(list) ? list : []).filter((e): e is BtlEndpoint => e !== undefined);
    added.forEach((endpoint) => host.added(endpoint, endpoint.rank, module));
    await Promise.all(added.map(async (endpoint) => {
      const call = `'${module.name}'.connected(endpoint of rank ${endpoint.rank})`;
      try {
        await bounded(call, Promise.resolve().then(() => module.connected!(endpoint)), limit);
      } catch (error) {
        v.push(error instanceof PendingCallError
          ? `${call} has not settled after ${limit / 1000} s, for a peer whose card names an address nobody listens on any more ` +
            `(rank ${endpoint.rank}'s card before its module was finalized): give the handshake a timeout, then resolve and report ` +
            `the failure through host.error (the BML sends on that link only once connected() resolved)`
          : `${call} rejected (${(error as Error)?.message}) for a peer nobody listens for; it must resolve and report the failure ` +
            `through host.error`);
      }
    }));
    if (!added.length) continue;
    await bounded(`'${module.name}'.delProcs() of those endpoints`, module.delProcs(added), limit);
    host.deleted(added);
  }
  return v;
}
