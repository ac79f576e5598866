import { STREAM_FRAGMENTS } from '../../options.js';
import { HEADER, KitTest } from '../fragments.js';
import { runRound } from '../round.js';
import { collector, measured, mib } from './memory.js';
import type { TrafficContext } from './traffic.js';

/** The default stream's time, however small `waitMs` is: tens of thousands of sends on a loaded machine. */
const LONG_RUN_MS = 30_000;
/**
 * Memory the stream may leave behind per fragment sent, after a full collection: a record kept
 * per fragment (an entry of a Map of unacknowledged sends) takes about 100 bytes; a sound
 * transport's growth does not scale with the count, and this leaves it 1.5 MiB or more of noise.
 */
export const KEPT_PER_FRAGMENT = 24;
// Up to 2 s: only a stream whose memory has not come down by then waits that long.
const SETTLE_READINGS = 20;

/**
 * The rank's memory after a full collection once a stream's last callbacks are through (right
 * after the last fragment some megabytes are still reachable from them): readings 100 ms apart
 * (at most `SETTLE_READINGS`), the least of them, until `enough` holds for it. A record kept per
 * fragment never goes away.
 */
async function settled(gc: () => void, enough: (least: number, previous: number) => boolean): Promise<number> {
  let least = measured(gc);
  let previous = Infinity;
  for (let i = 1; i < SETTLE_READINGS && !enough(least, previous); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    previous = least;
    least = Math.min(least, measured(gc));
  }
  return least;
}

/**
 * Two streams of small fragments (`fragments` each, 69,632 unless the kit's option says more:
 * past a 16-bit counter's wrap, with a margin) from each rank to one peer (the next rank: one
 * stream per receiver keeps it short), sent with back-pressure as the PML does: every fragment
 * must arrive once, intact, in order when the module is ORDERED, and complete without an error. A
 * counter the transport keeps per peer (a sequence number, a window index) shows its width in the
 * first: 16 bits wrap after 65,536 fragments, which no other check sends to one peer. The second
 * measures memory per fragment, which the 24 MiB of large fragments before cannot show (a hundred
 * of them): the first brought every queue to the depth such a stream takes (a ring keeps its
 * capacity, and holds a stream of tiny fragments whole), so what the second adds, after a full
 * collection, is kept per fragment (a record awaiting an acknowledgement that never comes).
 */
export async function longRunProblems(ctx: TrafficContext, fragments = STREAM_FRAGMENTS): Promise<string[]> {
  const first = await stream(ctx, 'long-run', fragments);
  // A stream fails on its receiver alone (a stall, a lost fragment): the ranks decide together whether the second one
  // runs, since its round meets every rank; one that went on alone waited at its barrier for ever, and the job hung.
  const failedSomewhere = await anyRank(ctx, first.violations.length > 0, 'long-run-first');
  if (first.violations.length) return first.violations.map((p) => `in a stream of ${fragments} small fragments to one peer: ${p}`);
  // The rank whose stream failed reports it.
  if (failedSomewhere) return [];
  const gc = collector();
  // Until a reading no longer drops: the first stream's last callbacks are gone.
  const before = await settled(gc, (least, previous) => previous - least < 256 * 1024);
  const second = await stream(ctx, 'long-run-again', fragments);
  if (second.violations.length)
    return second.violations.map((p) => `in a second stream of ${fragments} small fragments to the same peer: ${p}`);
  const sent = second.fragments;
  const growth = (await settled(gc, (least) => least - before <= KEPT_PER_FRAGMENT * sent)) - before;
  const perFragment = sent ? growth / sent : 0;
  ctx.host.log(`soak: a second stream of ${sent} small fragments, memory grew by ${mib(growth)} (${perFragment.toFixed(1)} bytes a ` +
    `fragment, at most ${KEPT_PER_FRAGMENT} allowed)`);
  if (perFragment <= KEPT_PER_FRAGMENT) return [];
  return [`after a second stream of ${sent} small fragments to the same peer (and a full garbage collection) the rank's memory had ` +
    `grown by ${mib(growth)}, ${Math.round(perFragment)} bytes per fragment sent (at most ${KEPT_PER_FRAGMENT} allowed): the module ` +
    `keeps something per fragment (a record awaiting an acknowledgement that never comes, an id in a set); memory must not grow ` +
    `with the number of fragments carried`];
}

/** One stream of `fragments` header-sized fragments from each rank to the next, in order where ORDERED. */
function stream({ wiring, host, waitMs }: TrafficContext, name: string, fragments: number) {
  const size = wiring.reach.length;
  const partner = (sender: number) => (sender + 1) % size;
  return runRound(wiring, host, name, {
    test: KitTest.LONG_RUN,
    sizes: (peer, _, sender) => (peer === partner(sender) ? Array<number>(fragments).fill(HEADER) : []),
    checkOrder: true,
    waitMs: Math.max(waitMs, Math.ceil((LONG_RUN_MS * fragments) / STREAM_FRAGMENTS)),
    stallMs: waitMs,
  });
}

/** Whether `mine` holds on any rank: every rank calls it, at the same point of the check. */
async function anyRank({ wiring }: TrafficContext, mine: boolean, name: string): Promise<boolean> {
  return (await wiring.wireup.exchange({ mine }, `kit-${name}`)).some((entry) => entry.mine === true);
}
