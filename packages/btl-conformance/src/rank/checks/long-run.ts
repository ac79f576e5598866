import { HEADER, KitTest } from '../fragments.js';
import { runRound } from '../round.js';
import { collector, measured, mib } from './memory.js';
import type { TrafficContext } from './traffic.js';

/** Past a 16-bit counter's wrap, with a margin: a sequence number that never wraps drops all that follows. */
export const LONG_RUN_FRAGMENTS = 65_536 + 4_096;
/** The stream's time, however small `waitMs` is: tens of thousands of sends on a loaded machine. */
const LONG_RUN_MS = 30_000;
/**
 * Memory the stream may leave behind per fragment sent, after a full collection: a record kept
 * per fragment (an entry of a Map of unacknowledged sends) takes about 100 bytes; a sound
 * transport's growth does not scale with the count, and this leaves it 1.5 MiB or more of noise.
 */
export const KEPT_PER_FRAGMENT = 24;
const SETTLE_READINGS = 10;

/**
 * The rank's memory after a full collection once the stream's last callbacks are through (right
 * after the last fragment some megabytes are still reachable from them): the least of a few
 * readings 100 ms apart (at most `readings`), taken until `enough` holds. A record kept per fragment never goes away.
 */
async function settled(gc: () => void, readings: number, enough: (bytes: number) => boolean = () => false): Promise<number> {
  let least = measured(gc);
  for (let i = 1; i < readings && !enough(least); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    least = Math.min(least, measured(gc));
  }
  return least;
}

/**
 * A long stream of small fragments from each rank to one peer (the next rank: one stream per
 * receiver keeps it short), sent with back-pressure as the PML does: every fragment must arrive
 * once, intact, in order when the module is ORDERED, and complete without an error. A counter the
 * transport keeps per peer (a sequence number, a window index) shows its width here: 16 bits wrap
 * after 65,536 fragments, which no other check sends to one peer. And memory per fragment: the
 * 24 MiB memory check before it sends a hundred large fragments, too few to show a record kept for
 * each; after this stream, and a full collection, the rank's memory may not have grown with the
 * count.
 */
export async function longRunProblems({ wiring, host, waitMs }: TrafficContext, fragments = LONG_RUN_FRAGMENTS): Promise<string[]> {
  const size = wiring.reach.length;
  const partner = (sender: number) => (sender + 1) % size;
  const gc = collector();
  const before = await settled(gc, 3);
  const round = await runRound(wiring, host, 'long-run', {
    test: KitTest.LONG_RUN,
    sizes: (peer, _, sender) => (peer === partner(sender) ? Array<number>(fragments).fill(HEADER) : []),
    checkOrder: true,
    waitMs: Math.max(waitMs, LONG_RUN_MS),
  });
  if (round.violations.length) return round.violations.map((p) => `in a stream of ${fragments} small fragments to one peer: ${p}`);
  // What the round's own bookkeeping held is garbage now; what the module keeps per fragment is not.
  const sent = round.fragments;
  const growth = (await settled(gc, SETTLE_READINGS, (bytes) => bytes - before <= KEPT_PER_FRAGMENT * sent)) - before;
  const perFragment = sent ? growth / sent : 0;
  host.log(`soak: ${sent} small fragments sent, memory grew by ${mib(growth)} (${perFragment.toFixed(1)} bytes a fragment, at most ` +
    `${KEPT_PER_FRAGMENT} allowed)`);
  if (perFragment <= KEPT_PER_FRAGMENT) return [];
  return [`after a stream of ${sent} small fragments to one peer (and a full garbage collection) the rank's memory had grown by ` +
    `${mib(growth)}, ${Math.round(perFragment)} bytes per fragment sent (at most ${KEPT_PER_FRAGMENT} allowed): the module keeps ` +
    `something per fragment (a record awaiting an acknowledgement that never comes, an id in a set); memory must not grow with ` +
    `the number of fragments carried`];
}
