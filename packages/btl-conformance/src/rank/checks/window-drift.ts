import { HEADER, KitTest, tagOf } from '../fragments.js';
import { callLimitMs } from '../pending.js';
import { runRound, until } from '../round.js';
import type { StopControl } from '../stop.js';
import { mib } from './memory.js';
import { oddRanks, sendUntilFalse, streamsTo, type Stream } from './stopped-streams.js';
import type { TrafficContext } from './traffic.js';

const WINDOW = 'window';
/**
 * How much more a stopped peer may be sent before `send` first returns false late in the job
 * than early on. A sound module's answer does not depend on how many fragments it carried; what
 * moves it is the state the last fragments left (a ring's wrap point, credits not yet returned),
 * at most a fragment or two of the kit's 256 KiB. A count that drifts by a frame header per
 * fragment moves by 1.1 MB over the soak's long run.
 */
export const WINDOW_GROWTH = 512 * 1024;

/** Where `send` first said false to each stopped peer: the bytes sent up to that call, by `moduleIndex/peer`. */
export type WindowReading = ReadonlyMap<string, number>;

export interface FirstWindow {
  readonly reading: WindowReading;
  readonly problems: readonly string[];
}

/** The bytes a stream sent up to the first `send` that returned false, by `moduleIndex/peer`. */
export function readingOf(streams: readonly Stream[]): Map<string, number> {
  const reading = new Map<string, number>();
  for (const s of streams) {
    const first = s.falses[0];
    if (first !== undefined) reading.set(`${s.moduleIndex}/${s.peer}`, (first + 1) * Math.min(s.module.maxSendSize, 256 * 1024));
  }
  return reading;
}

/**
 * stopped-peer's first reading, taken before a long run of small fragments: the odd ranks are
 * stopped only while the even ranks send to them until `send` returns false (a fraction of a
 * second), then continued; everything sent must complete and arrive before the job goes on.
 */
export async function firstWindow({ wiring, host, waitMs }: TrafficContext, stop: StopControl): Promise<FirstWindow> {
  const odd = oddRanks(wiring);
  if (!wiring.reachesPeers() || !odd.length || !stop.available) return { reading: new Map(), problems: [] };
  const me = wiring.rank;
  const limit = callLimitMs(waitMs);
  const problems: string[] = [];
  const streams: Stream[] = [];
  let arrived = 0;
  host.sink(tagOf(KitTest.WINDOW), () => void (arrived += 1));
  await wiring.sync('window-start');
  if (odd.includes(me)) {
    const releasers = wiring.reach.length - odd.length;
    if (!(await stop.stopMe(WINDOW, limit, releasers, limit * 2)))
      problems.push(`this rank asked the kit's runner to stop it briefly and was not continued within ${limit * 2} ms`);
  } else {
    try {
      const running = await stop.waitStopped(WINDOW, odd, limit);
      if (running.length) problems.push(`rank(s) ${running.join(', ')} were not stopped by the kit's runner (SIGSTOP) within ${limit} ms`);
      else streams.push(...streamsTo(wiring, odd));
      for (const s of streams) sendUntilFalse(s, me, KitTest.WINDOW);
      problems.push(...streams.flatMap((s) => (s.threw ? [s.threw] : [])));
    } finally {
      for (const r of odd) stop.release(WINDOW, r);
    }
    const watches = streams.flatMap((s) => s.watches);
    if (!(await until(() => watches.every((w) => w.calls > 0), waitMs)))
      problems.push(`after a brief stop of rank(s) ${odd.join(', ')}, ${watches.filter((w) => w.calls === 0).length} of the ` +
        `${watches.length} sends to them had not completed within ${waitMs} ms`);
  }
  const sent = streams.reduce<Record<number, number>>((to, s) => ({ ...to, [s.peer]: (to[s.peer] ?? 0) + s.watches.length }), {});
  const counts = await wiring.wireup.exchange({ sent }, 'kit-window-counts');
  const expected = counts.reduce((n, entry) => n + (((entry.sent ?? {}) as Record<number, number>)[me] ?? 0), 0);
  if (!(await until(() => arrived >= expected, waitMs)))
    problems.push(`after a brief stop, ${expected - arrived} of the ${expected} fragments sent here meanwhile had not arrived ` +
      `within ${waitMs} ms`);
  await wiring.sync('window-end');
  host.sink(tagOf(KitTest.WINDOW), undefined);
  return { reading: readingOf(streams), problems: [...problems, ...host.takeStrays()] };
}

/**
 * What a long job does to the count (run by stopped-peer when the soak's long run, which does it
 * too, was not asked for): `fragments` header-sized fragments from each even rank to each odd one.
 */
export async function smallFragmentRun({ wiring, host, waitMs }: TrafficContext, fragments: number): Promise<string[]> {
  const round = await runRound(wiring, host, 'window-run', {
    test: KitTest.WINDOW,
    sizes: (peer, _, sender) => (sender % 2 === 0 && peer % 2 === 1 ? Array<number>(fragments).fill(HEADER) : []),
    waitMs: Math.max(waitMs, 30_000),
    stallMs: waitMs,
  });
  // A module that fails one of so many fails thousands alike: name the first few.
  const shown = round.violations.slice(0, 3);
  const more = round.violations.length - shown.length;
  if (!shown.length) return [];
  return [`in a run of ${fragments} small fragments to each odd rank: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`];
}

/** A send window to a stopped peer that grew by more than WINDOW_GROWTH between the two readings. */
export function windowGrowth(first: WindowReading, later: WindowReading, carried: number, log: (line: string) => void): string[] {
  const v: string[] = [];
  for (const [key, after] of later) {
    const before = first.get(key);
    if (before === undefined) continue;
    const peer = key.split('/')[1];
    log(`stopped-peer: send first returned false to stopped rank ${peer} after ${mib(before)} early on, ${mib(after)} after ` +
      `${carried} more small fragments`);
    if (after - before <= WINDOW_GROWTH) continue;
    v.push(`send first returned false to stopped rank ${peer} after ${mib(before)} early on, but after ${mib(after)} once the ` +
      `module had carried ${carried} more small fragments to it (${((after - before) / carried).toFixed(1)} bytes more per ` +
      `fragment carried, at most ${mib(WINDOW_GROWTH)} more in all allowed): back-pressure fades over a long job, and a rank's ` +
      `memory grows without bound behind a slow peer; the bytes a send adds to the queue's count must be what its completion ` +
      `takes off`);
  }
  return v;
}
