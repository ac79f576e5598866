import type { BtlEndpoint } from '@switchyard/btl-interface';
import { KitTest, makeFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { bounded, callLimitMs } from '../pending.js';
import type { Wiring } from '../wiring.js';
import { mustRefuse } from './readd.js';

/**
 * wide-job: every peer deleted in ONE delProcs call per module (a restart of several ranks, `ctl
 * load --ranks 1,2`), then each is checked on its own. A module that walks its peers while it
 * removes them (a splice inside an index loop) keeps every second one: a send to it is still
 * accepted and its link stays open. The other jobs have one peer per rank, or delete one at a
 * time, so only a wide job deletes many at once. `connectionsLeft` counts the connected sockets
 * opened since the module was loaded and still open (the kit's leak tracker).
 */
export async function severalDeletedAtOnce(
  wiring: Wiring,
  host: KitHost,
  waitMs: number,
  connectionsLeft: () => Promise<Map<string, number>>,
): Promise<string[]> {
  const v: string[] = [];
  const arrived = new Map<number, number>();
  const tag = tagOf(KitTest.WIDE_DELETED);
  host.sink(tag, (from) => void arrived.set(from, (arrived.get(from) ?? 0) + 1));
  await wiring.sync('wide-delete-start');
  for (const [i, module] of wiring.modules.entries()) {
    const own = wiring.endpoints[i]!.get(wiring.rank);
    const peers = [...wiring.endpoints[i]!.values()].filter((endpoint) => endpoint !== own);
    if (!peers.length) continue;
    const call = `'${module.name}'.delProcs([${peers.length} peers])`;
    await bounded(`${call} (every peer in one call)`, wiring.delEndpoints(i, peers), callLimitMs(waitMs));
    const refused: string[] = [];
    for (const endpoint of peers) {
      const data = makeFragment(KitTest.WIDE_DELETED, { sender: wiring.rank, seq: 0, moduleIndex: i }, 64);
      const p = await mustRefuse(`'${module.name}': a fragment to rank ${endpoint.rank} after ${call} (the peer is up)`, module, endpoint,
        tag, data, { host, waitMs });
      if (p) refused.push(p);
    }
    // Each deleted endpoint checked: a module that forgets every second one fails half of them.
    if (refused.length)
      v.push(`${refused.length} of ${peers.length} peers deleted in one delProcs call were not forgotten: ` +
        `${refused.slice(0, 3).join('; ')}${refused.length > 3 ? '; ...' : ''}`);
    if (own) await bounded(`'${module.name}'.delProcs([this rank])`, wiring.delEndpoints(i, [own] as BtlEndpoint[]), callLimitMs(waitMs));
  }
  await wiring.sync('wide-deleted');
  const left = [...(await connectionsLeft())].map(([type, n]) => `${n} ${type}`);
  if (left.length)
    v.push(`after delProcs of every peer in one call (on every rank), connections still open: ${left.join(', ')} (opened since the ` +
      `module was loaded; each deleted peer's link must be closed)`);
  await wiring.sync('wide-delete-end');
  const came = [...arrived].sort(([a], [b]) => a - b).map(([from, n]) => `${n} from rank ${from}`);
  if (came.length)
    v.push(`fragments sent on endpoints delProcs had deleted arrived here (${came.join(', ')}): a send to a deleted endpoint must ` +
      `send nothing`);
  host.sink(tag, undefined);
  return v;
}
