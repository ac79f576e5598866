import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { bounded, callLimitMs } from '../pending.js';
import { until } from '../round.js';
import type { Wiring } from '../wiring.js';
import { watchedSend } from './completion.js';

/** The peer every other rank deletes alone: its number is the start of 10 and 11. */
const ALONE = 1;

/**
 * wide-job: every rank but rank 1 deletes rank 1 ALONE (one reloading peer, the usual case) and
 * sends to every other endpoint, its own included: each send must complete without an error and
 * arrive. A delProcs that matches peers by a prefix of their address or topic (`sy/<job>/1` is the
 * start of `sy/<job>/10` and `/11`) forgets ranks 10 and 11 with rank 1; only a job of 11 ranks or
 * more has such a rank, and the kit's other jobs never do.
 */
export async function onePeerDeletedAlone(wiring: Wiring, host: KitHost, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  const tag = tagOf(KitTest.WIDE_ONE_DELETED);
  const arrived = new Map<number, number>();
  host.sink(tag, (from, data) => {
    const id = readFragment(KitTest.WIDE_ONE_DELETED, data);
    if (typeof id === 'string') v.push(`from rank ${from}, after rank ${ALONE} was deleted alone: ${id}`);
    else arrived.set(from, (arrived.get(from) ?? 0) + 1);
  });
  await wiring.sync('wide-delete-one-start');
  const ranks = (list: number[]) => list.sort((a, b) => a - b).join(', ');
  const sends: Array<Promise<void>> = [];
  for (const [i, module] of wiring.modules.entries()) {
    const deleted = wiring.endpoints[i]!.get(ALONE);
    if (wiring.rank === ALONE || !deleted) continue;
    const call = `'${module.name}'.delProcs([rank ${ALONE}])`;
    await bounded(`${call} (one peer alone)`, wiring.delEndpoints(i, [deleted]), callLimitMs(waitMs));
    const failed: Array<[number, Error]> = [];
    const silent: number[] = [];
    const kept = [...wiring.endpoints[i]!.values()].filter((endpoint) => endpoint !== deleted);
    sends.push(Promise.all(kept.map(async (endpoint) => {
      const data = makeFragment(KitTest.WIDE_ONE_DELETED, { sender: wiring.rank, seq: 0, moduleIndex: i }, 64);
      const sent = watchedSend((done) => module.send(endpoint, tag, [data], done));
      if (sent.threw) failed.push([endpoint.rank, sent.threw]);
      else if (!(await sent.watch.settled(waitMs))) silent.push(endpoint.rank);
      else if (sent.watch.error) failed.push([endpoint.rank, sent.watch.error]);
    })).then(() => {
      if (failed.length)
        v.push(`'${module.name}': after ${call} alone, sends to rank(s) ${ranks(failed.map(([r]) => r))} (not deleted) failed: ` +
          `${failed[0]![1].message} (delProcs must forget the peers it is given and no others: one matched by a prefix of its ` +
          `address or topic, as rank ${ALONE} is of ranks 10 and 11?)`);
      if (silent.length)
        v.push(`'${module.name}': after ${call} alone, sends to rank(s) ${ranks(silent)} (not deleted) never completed (within ` +
          `${waitMs} ms)`);
    }));
  }
  await Promise.all(sends);
  // Rank 1 sends nothing and is sent nothing: every other rank's module deleted it.
  const senders = wiring.rank === ALONE ? [] : wiring.senders().filter((s) => s.rank !== ALONE);
  const expected = new Map<number, number>();
  senders.forEach((s) => expected.set(s.rank, (expected.get(s.rank) ?? 0) + 1));
  const missing = () => [...expected].filter(([from, n]) => (arrived.get(from) ?? 0) < n).map(([from]) => from);
  if (!(await until(() => missing().length === 0, waitMs)))
    v.push(`after every rank but rank ${ALONE} deleted rank ${ALONE} alone, fragments from rank(s) ${ranks(missing())} (not deleted) ` +
      `had not arrived within ${waitMs} ms`);
  await wiring.sync('wide-delete-one-end');
  host.sink(tag, undefined);
  return [...v, ...host.takeStrays()];
}
