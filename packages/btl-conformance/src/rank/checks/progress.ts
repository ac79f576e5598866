import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KitTest, makeFragment, tagOf } from '../fragments.js';
import { until } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

/** Fragments each peer sends to the rank that polls, over each module. */
const COUNT = 8;
const SIZE = 64;

/**
 * progress: a module that offers progress() hands up, from progress() called in a loop, what its
 * peers send meanwhile, with no turn of the event loop: a busy-polling wait() polls it so and
 * nothing else runs until it returns. progress() returns how many fragments moved, and never
 * throws. Each rank polls in turn; the others send once they see its flag in the job's scratch
 * folder (written synchronously: a message over the runtime would need the loop to turn).
 */
export async function checkProgress({ wiring, host, waitMs }: TrafficContext, scratch: string | undefined): Promise<Verdict> {
  const polled = wiring.modules.filter((m) => typeof m.progress === 'function');
  if (!polled.length) return notApplicable('no module of the component offers progress()');
  if (!wiring.reachesPeers()) return notApplicable('no module reaches another rank: no peer can send while a rank polls');
  if (!scratch) return notApplicable("the job has no scratch folder (SWITCHYARD_KIT_SCRATCH) for the polling rank's flag");
  const v: string[] = [];
  let got = 0;
  host.sink(tagOf(KitTest.PROGRESS), () => {
    got += 1;
  });
  const ranks = wiring.reach.length;
  for (let poller = 0; poller < ranks; poller++) {
    const flag = join(scratch, `progress-polling-${poller}`);
    await wiring.sync(`progress-${poller}`);
    if (poller === wiring.rank) {
      const expected = wiring.senders().filter((s) => s.rank !== poller && wiring.modules[s.moduleIndex]?.progress !== undefined);
      got = 0;
      v.push(...poll(polled, expected.length * COUNT, () => got, flag, waitMs, poller));
    } else if (await until(() => existsSync(flag), waitMs)) {
      for (const [i, module] of wiring.modules.entries()) {
        const endpoint = wiring.endpoints[i]!.get(poller);
        if (!endpoint) continue;
        for (let seq = 0; seq < COUNT; seq++) {
          const fragment = makeFragment(KitTest.PROGRESS, { sender: wiring.rank, seq, moduleIndex: i }, SIZE);
          module.send(endpoint, tagOf(KitTest.PROGRESS), [fragment]);
        }
      }
    } else {
      v.push(`rank ${wiring.rank}: rank ${poller} never began polling (no flag within ${waitMs} ms)`);
    }
    await wiring.sync(`progress-${poller}-done`);
  }
  host.sink(tagOf(KitTest.PROGRESS), undefined);
  return verdictOf(v);
}

/** Polls every module in a loop, without yielding, until `expected` fragments came or `waitMs` passed. */
function poll(
  modules: ReadonlyArray<{ readonly name: string; progress?(): number }>,
  expected: number,
  got: () => number,
  flag: string,
  waitMs: number,
  rank: number,
): string[] {
  const v: string[] = [];
  writeFileSync(flag, '');
  const deadline = performance.now() + waitMs;
  let returned: unknown = 0;
  try {
    while (got() < expected && performance.now() < deadline) {
      for (const m of modules) {
        const n = m.progress!();
        if (!Number.isInteger(n) || n < 0) returned = n;
      }
    }
  } catch (error) {
    v.push(`rank ${rank}: progress() threw: ${(error as Error)?.message ?? String(error)} (it must not throw)`);
  }
  if (returned !== 0) v.push(`rank ${rank}: progress() returned ${String(returned)} (a count of fragments moved: an integer, 0 or more)`);
  if (got() < expected) {
    v.push(
      `rank ${rank}: progress() called in a loop for ${waitMs} ms handed up ${got()} of the ${expected} fragments its peers sent ` +
        'meanwhile; they must arrive from progress() alone, without a turn of the event loop',
    );
  }
  return v;
}
