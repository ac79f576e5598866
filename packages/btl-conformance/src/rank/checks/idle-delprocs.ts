import type { BtlEndpoint } from '@switchyard/btl-interface';
import { bounded, callLimitMs, PendingCallError } from '../pending.js';
import { exchangeProcs } from '../wiring.js';
import type { TrafficContext } from './traffic.js';

/**
 * delProcs of a peer this rank never exchanged a fragment with resolves too. Links open lazily,
 * so an idle peer (one the traffic never reached, a peer that reloads before any message, the
 * rank itself) has no connection: a delProcs that waits for an event only a connection fires (its
 * 'close') never resolves, and `ctl unload` or a peer's reload hangs on it. The kit adds every
 * rank again (the rank itself included, as the BML does), deletes each at once, one at a time,
 * before any traffic; each delProcs must resolve within the kit's bound. early-arrival then adds
 * the peers once more and checks that traffic flows.
 */
export async function idlePeersDeleted({ wiring, waitMs }: Pick<TrafficContext, 'wiring' | 'waitMs'>): Promise<string[]> {
  const procs = await exchangeProcs(wiring.wireup, wiring.modules, 'idle', true);
  const added: BtlEndpoint[][] = [];
  for (const module of wiring.modules) {
    const list = await bounded(`'${module.name}'.addProcs() of every rank, after delProcs of every one`,
      Promise.resolve().then(() => module.addProcs(procs)), callLimitMs(waitMs));
    added.push((Array.isArray(list) ? list : []).filter((e): e is BtlEndpoint => e !== undefined));
  }
  // Both sides know each other before either deletes: the peer is idle, not unknown.
  await wiring.sync('idle-added');
  const v: string[] = [];
  for (const [i, module] of wiring.modules.entries()) {
    const own = added[i]!.filter((e) => e.rank === wiring.rank);
    for (const endpoint of [...added[i]!.filter((e) => e.rank !== wiring.rank), ...own]) {
      const who = endpoint.rank === wiring.rank ? `rank ${endpoint.rank} (this rank itself)` : `rank ${endpoint.rank}`;
      const call = `'${module.name}'.delProcs([rank ${endpoint.rank}])`;
      try {
        await bounded(call, Promise.resolve().then(() => module.delProcs([endpoint])), callLimitMs(waitMs));
      } catch (error) {
        v.push(error instanceof PendingCallError
          ? `${error.message}, called right after addProcs, before any fragment to or from ${who}: a peer never sent to has no ` +
            `connection, so delProcs must not wait for one to close (ctl unload and a peer's reload would hang)`
          : `${call} of an idle peer (added just before, no fragment exchanged) rejected: ${(error as Error)?.message}`);
      }
    }
  }
  await wiring.sync('idle-deleted');
  return v;
}
