import { KitTest, makeFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { bounded, callLimitMs } from '../pending.js';
import type { Wiring } from '../wiring.js';
import { watchedSend } from './completion.js';

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
    // Each deleted endpoint checked on its own: a module that forgets every second one keeps half.
    const kept: number[] = [];
    const silent: number[] = [];
    await Promise.all(peers.map(async (endpoint) => {
      const data = makeFragment(KitTest.WIDE_DELETED, { sender: wiring.rank, seq: 0, moduleIndex: i }, 64);
      const sent = watchedSend((done) => module.send(endpoint, tag, [data], done));
      if (sent.threw) v.push(`'${module.name}': a send to rank ${endpoint.rank} after ${call} threw (${sent.threw.message})`);
      else if (!(await sent.watch.settled(waitMs))) silent.push(endpoint.rank);
      else if (!sent.watch.error) kept.push(endpoint.rank);
    }));
    const ranks = (list: number[]) => list.sort((a, b) => a - b).join(', ');
    if (kept.length)
      v.push(`'${module.name}': after ${call}, sends to rank(s) ${ranks(kept)} still completed without an error (${kept.length} of the ` +
        `${peers.length} deleted at once kept: delProcs must forget every endpoint it is given; a send there completes with an error)`);
    if (silent.length)
      v.push(`'${module.name}': after ${call}, sends to rank(s) ${ranks(silent)} never completed (within ${waitMs} ms); a send to a ` +
        `deleted endpoint completes with an error`);
    if (own) await bounded(`'${module.name}'.delProcs([this rank])`, wiring.delEndpoints(i, [own]), callLimitMs(waitMs));
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
