import type { BtlEndpoint } from '@switchyard/btl-interface';
import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import { bounded, callLimitMs } from '../pending.js';
import { until } from '../round.js';
import { watchedSend } from './completion.js';
import type { TrafficContext } from './traffic.js';

/**
 * delProcs forgets the peers it is given, no others: the BML deletes one reloading peer while the
 * rest carry on, and may send to them while that delProcs runs. The kit deletes this rank's peers
 * but keeps its own endpoint (in a 2-rank job the only one left), sends on it while the delProcs
 * runs and once it resolved: both must arrive and complete without an error, and no host.error
 * may name it. A module that ends every link in delProcs, counting on a lazy reconnect, fails.
 */
export async function keptEndpointUndisturbed(
  { wiring, host, waitMs }: TrafficContext,
  moduleIndex: number,
  kept: BtlEndpoint,
  deleted: readonly BtlEndpoint[],
): Promise<string[]> {
  const module = wiring.modules[moduleIndex]!;
  const v: string[] = [];
  const arrived = new Set<number>();
  host.sink(tagOf(KitTest.KEPT), (_from, data) => {
    const id = readFragment(KitTest.KEPT, data);
    if (typeof id === 'string') v.push(`on the kept endpoint: ${id}`);
    else arrived.add(id.seq);
  });
  const errorsBefore = host.errors.length;
  const send = (seq: number) =>
    watchedSend((done) => module.send(kept, tagOf(KitTest.KEPT), [makeFragment(KitTest.KEPT,
      { sender: wiring.rank, seq, moduleIndex }, 64)], done));
  const others = `delProcs of rank(s) ${deleted.map((e) => e.rank).join(', ')}`;
  const deleting = wiring.delEndpoints(moduleIndex, deleted);
  const sends: Array<[string, ReturnType<typeof send>]> = [[`while ${others} ran`, send(0)]];
  await bounded(`delProcs() on '${module.name}'`, deleting, callLimitMs(waitMs));
  sends.push([`once ${others} resolved`, send(1)]);
  for (const [when, s] of sends) {
    const what = `'${module.name}': a fragment to rank ${kept.rank} (not deleted) sent ${when}`;
    if (s.threw) v.push(`${what}: send threw (${s.threw.message})`);
    else if (!(await s.watch.settled(waitMs))) v.push(`${what}: its completion never ran (within ${waitMs} ms)`);
    else if (s.watch.error) v.push(`${what} failed: ${s.watch.error.message} (delProcs must leave the other peers' links alone)`);
  }
  if (!(await until(() => arrived.size >= 2, waitMs)))
    v.push(`'${module.name}': ${2 - arrived.size} of 2 fragments to rank ${kept.rank} (not deleted), sent around ${others}, never arrived`);
  for (const event of host.errors.slice(errorsBefore).filter((e) => e.endpoint === kept).slice(0, 1))
    v.push(`'${module.name}': host.error (${event.severity}: ${event.error?.message}) named rank ${kept.rank}'s endpoint, which was ` +
      `not deleted, after ${others}: delProcs must leave the other peers' links alone`);
  host.sink(tagOf(KitTest.KEPT), undefined);
  return v;
}
