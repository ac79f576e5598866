import { HEADER, KitTest } from '../fragments.js';
import { runRound } from '../round.js';
import type { TrafficContext } from './traffic.js';

/** Past a 16-bit counter's wrap, with a margin: a sequence number that never wraps drops all that follows. */
export const LONG_RUN_FRAGMENTS = 65_536 + 4_096;
/** The stream's time, however small `waitMs` is: tens of thousands of sends on a loaded machine. */
const LONG_RUN_MS = 30_000;

/**
 * A long stream of small fragments from each rank to one peer (the next rank: one stream per
 * receiver keeps it short), sent with back-pressure as the PML does: every fragment must arrive
 * once, intact, in order when the module is ORDERED, and complete without an error. A counter the
 * transport keeps per peer (a sequence number, a window index) shows its width here: 16 bits wrap
 * after 65,536 fragments, which no other check sends to one peer.
 */
export async function longRunProblems({ wiring, host, waitMs }: TrafficContext): Promise<string[]> {
  const size = wiring.reach.length;
  const partner = (sender: number) => (sender + 1) % size;
  const round = await runRound(wiring, host, 'long-run', {
    test: KitTest.LONG_RUN,
    sizes: (peer, _, sender) => (peer === partner(sender) ? Array<number>(LONG_RUN_FRAGMENTS).fill(HEADER) : []),
    checkOrder: true,
    waitMs: Math.max(waitMs, LONG_RUN_MS),
  });
  return round.violations.map((p) => `in a stream of ${LONG_RUN_FRAGMENTS} small fragments to one peer: ${p}`);
}
