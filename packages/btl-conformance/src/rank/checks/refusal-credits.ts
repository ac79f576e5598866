import { KitTest, makeFragment, tagOf } from '../fragments.js';
import { runRound } from '../round.js';
import { watchedSend } from './completion.js';
import type { TrafficContext } from './traffic.js';

/** Refused sends in a row to each endpoint: more than any window of credits or slots a transport keeps per peer (64, 128). */
export const REFUSAL_BURST = 256;
/** Fragments each endpoint then carries, with back-pressure: several such windows. */
const AFTER_BURST = 512;

/**
 * A refusal changes nothing, so it must give back whatever the send took on its way in (a credit
 * of a per-peer window, a slot of a ring, a count of sends in flight): one that never does leaves
 * that peer blocked for good once failures have used it up, and the BML waits for a `writable`
 * that never comes. `REFUSAL_BURST` refusals to every endpoint, honouring back-pressure, then a
 * stream of `AFTER_BURST` small fragments that must all arrive, once and in order where ORDERED.
 */
export async function refusalsLeaveWindow({ wiring, host, waitMs }: TrafficContext): Promise<string[]> {
  const v: string[] = [];
  const seconds = `${Math.round(waitMs / 100) / 10} s`;
  await Promise.all(wiring.modules.flatMap((module, i) => {
    // Allocated once: a refusal reads none of it.
    const badTag = makeFragment(KitTest.REFUSED, { sender: wiring.rank, seq: 3, moduleIndex: i }, 64);
    const over = makeFragment(KitTest.REFUSED, { sender: wiring.rank, seq: 4, moduleIndex: i }, module.maxSendSize + 1);
    return [...wiring.endpoints[i]!].map(async ([peer, endpoint]) => {
      const who = `'${module.name}' to rank ${peer}`;
      const watches = [];
      for (let k = 0; k < REFUSAL_BURST; k++) {
        const s = watchedSend((done) => (k % 2 ? module.send(endpoint, tagOf(KitTest.REFUSED), [over], done)
          : module.send(endpoint, 256, [badTag], done)));
        if (s.threw) return v.push(`${who}: refused send ${k + 1} of ${REFUSAL_BURST} threw: ${s.threw.message}`);
        watches.push(s.watch);
        if (s.accepted === false && !(await host.whenWritable(endpoint, () => {}, waitMs)))
          return v.push(`${who}: after ${k + 1} refused sends in a row (tag 256, over maxSendSize), send() returned false and writable ` +
            `never came for ${seconds} (a refusal must give back what the send took: a credit, a window slot; else failures use ` +
            `the window up and that peer stays blocked)`);
      }
      const settled = await Promise.all(watches.map((w) => w.settled(waitMs)));
      const unsettled = settled.filter((ok) => !ok).length;
      const succeeded = watches.filter((w, k) => settled[k] && !w.error).length;
      if (unsettled) v.push(`${who}: ${unsettled} of ${REFUSAL_BURST} refused sends in a row never ran their completion`);
      if (succeeded) v.push(`${who}: ${succeeded} of ${REFUSAL_BURST} refused sends in a row completed without an error`);
      return undefined;
    });
  }));
  // Arrival is checked by the caller's sink of the REFUSED tag; now the peers must still take a
  // stream, on every module no rank saw report an error: the rdma check before may have broken a
  // link for good (touching released memory, as a real HCA's remote access error does).
  const reported = new Set(host.errors.map((e) => wiring.modules.indexOf(e.module)));
  const everyRank = await wiring.wireup.exchange({ reported: [...reported] }, 'kit-refusal-window');
  const downOn = new Set(everyRank.flatMap((entry) => (entry.reported as number[] | undefined) ?? []));
  const round = await runRound(wiring, host, 'after-refusals', {
    test: KitTest.AFTER_REFUSALS,
    sizes: (_, i) => (downOn.has(i) ? [] : Array<number>(AFTER_BURST).fill(64)),
    checkOrder: true,
    waitMs,
  });
  v.push(...round.violations.map((p) => `in a stream of ${AFTER_BURST} fragments to each endpoint after ${REFUSAL_BURST} refused ` +
    `sends to it: ${p}`));
  return v;
}
