import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import { until } from '../round.js';
import { watchedSend } from './completion.js';
import { longRunProblems } from './long-run.js';
import { memoryGrowth } from './memory.js';
import type { TrafficContext } from './traffic.js';
import { verdictOf, type Verdict } from './verdict.js';

/**
 * soak: links live longer than the kit's other checks. For the first half of `soakMs` every rank
 * sends a small fragment to every endpoint every tick, then nothing until the last tick; each must
 * arrive and complete without error, and the module reports no error. A link an idle or lifetime
 * timer closes after some seconds fails here when `soakMs` is longer than that timer (set it to
 * 60 s to catch timers of tens of seconds).
 */
export async function checkSoak({ wiring, host, waitMs }: TrafficContext, soakMs: number, streamFragments?: number): Promise<Verdict> {
  const v: string[] = [];
  const tickMs = Math.min(500, Math.max(50, soakMs / 8));
  const ticks = Math.max(1, Math.round(soakMs / tickMs));
  let count = 0;
  host.sink(tagOf(KitTest.SOAK), (from, data) => {
    const id = readFragment(KitTest.SOAK, data);
    if (typeof id === 'string') v.push(`from rank ${from}: ${id}`);
    else count += 1;
  });
  const errorsBefore = host.errors.length;
  await wiring.sync('soak-start');
  const started = Date.now();
  const settled: Array<Promise<void>> = [];
  // The first half carries a trickle (a lifetime timer fires under traffic), the second half is
  // idle but for its last tick (an idle timer fires when nothing moves).
  const busy = Math.max(1, Math.floor(ticks / 2));
  for (let tick = 0; tick < ticks; tick++) {
    if (tick >= busy && tick < ticks - 1) {
      await new Promise((resolve) => setTimeout(resolve, tickMs));
      continue;
    }
    for (const [i, module] of wiring.modules.entries()) {
      for (const [peer, endpoint] of wiring.endpoints[i]!) {
        const bytes = makeFragment(KitTest.SOAK, { sender: wiring.rank, seq: tick, moduleIndex: i }, 64);
        const at = Date.now() - started;
        const s = watchedSend((done) => module.send(endpoint, tagOf(KitTest.SOAK), [bytes], done));
        if (s.threw) v.push(`at ${at} ms, a send to rank ${peer} threw: ${s.threw.message}`);
        else settled.push(s.watch.settled(waitMs).then((ok) => {
          if (!ok) v.push(`the send to rank ${peer} at ${at} ms into the soak never completed`);
          else if (s.watch.error) v.push(`the send to rank ${peer} at ${at} ms into the soak failed: ${s.watch.error.message}`);
        }));
      }
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  const expected = wiring.senders().length * (busy + (ticks > busy ? 1 : 0));
  // Completions and arrivals are waited for together: a link that loses both costs waitMs once, not twice.
  const arrivedAll = until(() => count >= expected, waitMs);
  await Promise.all(settled);
  if (!(await arrivedAll))
    v.push(`of the ${expected} fragments sent to this rank during the ${soakMs} ms soak, ${expected - count} never arrived`);
  for (const e of host.errors.slice(errorsBefore))
    v.push(
      `during the soak the module reported ${e.severity} error '${e.error?.message}' (rank ${e.endpoint?.rank ?? '-'}) though every ` +
        `peer was up`,
    );
  host.sink(tagOf(KitTest.SOAK), undefined);
  await wiring.sync('soak-end');
  const kept = await memoryGrowth({ wiring, host, waitMs });
  const long = await longRunProblems({ wiring, host, waitMs }, streamFragments);
  return verdictOf([...v.slice(0, 8), ...kept, ...long, ...host.takeStrays()]);
}
