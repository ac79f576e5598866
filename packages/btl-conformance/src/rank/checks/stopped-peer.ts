import { BtlFlag } from '@switchyard/btl-interface';
import { KitTest, readFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { bounded, callLimitMs, PendingCallError } from '../pending.js';
import { until } from '../round.js';
import { NO_STOPS, type StopControl } from '../stop.js';
import type { Wiring } from '../wiring.js';
import { oddRanks, sendUntilFalse, streamsTo, type Stream } from './stopped-streams.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';
import { readingOf, smallFragmentRun, windowGrowth, type FirstWindow } from './window-drift.js';

/** Fragments sent from inside writable() once the stopped peer reads again: the link must still carry them. */
const AFTER_WRITABLE = 4;
const STOPPED_PEER = 'stopped-peer';
const FINALIZE = 'finalize';

/** Why neither rule applies here, or undefined. */
function inapplicable(wiring: Wiring, stop: StopControl): Verdict | undefined {
  if (!wiring.reachesPeers() || !oddRanks(wiring).length)
    return notApplicable('the module reaches no other rank, so no peer of it can be stopped');
  if (!stop.available)
    return verdictOf([NO_STOPS]);
  return undefined;
}

/**
 * The drift half of stopped-peer: where send first said false to the stopped peers before a long
 * run of small fragments; the run is the soak's unless soak was not asked for (`run`: then this
 * rule sends `carried` fragments itself).
 */
export interface WindowDrift {
  readonly first: FirstWindow;
  readonly carried: number;
  readonly run: boolean;
}

/**
 * stopped-peer: the odd ranks are stopped from outside (SIGSTOP by the kit's runner) for
 * `stopMs`, as a peer in a long compute phase is; the even ranks send to them until `send`
 * returns false, wait for `writable` (which can only come once the peer reads again) and send a
 * few more from inside it. Nothing may fail meanwhile: no completion with an error (a write
 * watchdog that gives up on a fragment that then arrives), no `host.error` (a timer that takes a
 * slow peer for a lost one); after SIGCONT every fragment arrives once, intact, in order where
 * the module is ORDERED. With `window`, where send first said false must not have moved up by
 * more than WINDOW_GROWTH since the first reading (see window-drift.ts).
 */
export async function checkStoppedPeer(ctx: TrafficContext, stop: StopControl, stopMs: number, window?: WindowDrift): Promise<Verdict> {
  const { wiring, host, waitMs } = ctx;
  const skip = inapplicable(wiring, stop);
  if (skip) return skip;
  const v: string[] = [...(window?.first.problems ?? [])];
  if (window?.run) v.push(...(await smallFragmentRun(ctx, window.carried)));
  const odd = oddRanks(wiring);
  const me = wiring.rank;
  const seen = new Map<string, { seen: Set<number>; last: number }>();
  const ordered = (i: number) => ((wiring.modules[i]?.flags ?? 0) & BtlFlag.ORDERED) !== 0;
  host.sink(tagOf(KitTest.STOPPED), (from, data) => {
    const id = readFragment(KitTest.STOPPED, data);
    if (typeof id === 'string') return void v.push(`from rank ${from}: ${id}`);
    const key = `${id.sender}/${id.moduleIndex}`;
    const stream = seen.get(key) ?? { seen: new Set<number>(), last: -1 };
    seen.set(key, stream);
    if (stream.seen.has(id.seq)) v.push(`fragment ${id.seq} from rank ${id.sender} arrived twice`);
    else if (ordered(id.moduleIndex) && id.seq < stream.last)
      v.push(`fragment ${id.seq} from rank ${id.sender} arrived after fragment ${stream.last}, though the module is flagged ORDERED`);
    stream.last = Math.max(stream.last, id.seq);
    stream.seen.add(id.seq);
  });
  const errorsBefore = host.errors.length;
  const streams: Stream[] = [];
  await wiring.sync('stopped-start');
  const limit = callLimitMs(waitMs);
  if (odd.includes(me)) {
    if (!(await stop.stopMe(STOPPED_PEER, stopMs, 0, stopMs + limit)))
      v.push(`this rank asked the kit's runner to stop it for ${stopMs} ms and was not continued within ${stopMs + limit} ms`);
  } else {
    const running = await stop.waitStopped(STOPPED_PEER, odd, limit);
    if (running.length) v.push(`rank(s) ${running.join(', ')} were not stopped by the kit's runner (SIGSTOP) within ${limit} ms`);
    else {
      streams.push(...streamsTo(wiring, odd));
      const pumped = Promise.all(streams.map((s) => pumpThroughStop(s, host, me, stopMs, waitMs)));
      // Read while the peers are stopped: every stream has met its first false by now.
      if (window) v.push(...windowGrowth(window.first.reading, readingOf(streams), window.carried, (line) => host.log(line)));
      v.push(...(await pumped).flat());
    }
  }
  // Whatever each rank sent, the receivers learn over the runtime (the peer runs again by now).
  const sent = Object.fromEntries(streams.map((s) => [`${s.moduleIndex}/${s.peer}`, s.watches.length]));
  const counts = await wiring.wireup.exchange({ sent }, 'kit-stopped-counts');
  const expected = counts.flatMap((entry, sender) =>
    Object.entries((entry.sent ?? {}) as Record<string, number>)
      .filter(([key]) => Number(key.split('/')[1]) === me)
      .map(([key, n]) => ({ key: `${sender}/${key.split('/')[0]}`, sender, n })),
  );
  const complete = () => expected.every((e) => (seen.get(e.key)?.seen.size ?? 0) >= e.n);
  if (!(await until(complete, waitMs))) {
    for (const e of expected) {
      const got = seen.get(e.key)?.seen.size ?? 0;
      if (got < e.n)
        v.push(`after rank(s) ${odd.join(', ')} were continued, ${e.n - got} of the ${e.n} fragments rank ${e.sender} sent here while ` +
          `this rank was stopped had not arrived within ${waitMs} ms`);
    }
  }
  for (const e of host.errors.slice(errorsBefore).slice(0, 4))
    v.push(`the module reported ${e.severity} error '${e.error?.message}' (rank ${e.endpoint?.rank ?? '-'}) though no peer failed: ` +
      `rank(s) ${odd.join(', ')} were only stopped for ${stopMs} ms (a peer that does not read for a while is not a lost one)`);
  host.sink(tagOf(KitTest.STOPPED), undefined);
  await wiring.sync('stopped-end');
  return verdictOf([...v.slice(0, 10), ...host.takeStrays()]);
}

/** Sends to a stopped peer until false, then from inside writable once it reads again; checks every completion. */
async function pumpThroughStop(stream: Stream, host: KitHost, me: number, stopMs: number, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  const to = `rank ${stream.peer}`;
  let blocked = sendUntilFalse(stream, me, KitTest.STOPPED);
  if (stream.threw) return [stream.threw];
  if (!blocked) host.log(`stopped-peer: ${stream.watches.length} fragments went to stopped ${to} and send() never returned false`);
  // Writable comes once the peer reads again (the stop's length, plus the usual wait); the PML
  // sends the next fragments from inside it.
  let left = AFTER_WRITABLE;
  while (blocked) {
    const before = stream.watches.length;
    let again = false;
    const resumed = await host.whenWritable(stream.endpoint, () => (again = sendUntilFalse(stream, me, KitTest.STOPPED, left)),
      stopMs + waitMs);
    if (!resumed) {
      v.push(`send returned false at fragment ${stream.falses.at(-1)} to ${to} while it was stopped, and host.writable for that ` +
        `endpoint did not follow within ${stopMs + waitMs} ms (it was continued after ${stopMs} ms)`);
      break;
    }
    if (stream.threw) return [stream.threw];
    left -= stream.watches.length - before;
    blocked = again && left > 0;
  }
  for (const [seq, watch] of stream.watches.entries()) {
    if (!(await watch.settled(stopMs + waitMs))) {
      v.push(`the send of fragment ${seq} to ${to} never completed (within ${stopMs + waitMs} ms, the peer continued after ${stopMs} ms)`);
      break;
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
  const failed = stream.watches.map((w, seq) => [seq, w] as const).filter(([, w]) => w.error);
  if (failed.length) {
    const [seq, w] = failed[0]!;
    v.push(`${failed.length} of the ${stream.watches.length} sends to ${to} completed with an error (the first, fragment ${seq}: ` +
      `'${w.error!.message}') though ${to} was only stopped for ${stopMs} ms and read everything once continued: a peer that does ` +
      `not read for a while has not failed (a real one in a long compute phase does this); keep its fragments, return false from ` +
      `send and call writable once it reads again`);
  }
  const twice = stream.watches.findIndex((w) => w.calls > 1);
  if (twice >= 0) v.push(`the completion of fragment ${twice} to ${to} ran ${stream.watches[twice]!.calls} times`);
  return v;
}

/**
 * Every send issued before finalize must run its completion exactly once, finalize included (an
 * error is fine): the PML holds each fragment until its completion, so one that never runs is a
 * request that never finishes. Completions may trail finalize's resolve by a few turns, hence the
 * bound.
 */
async function completedAtFinalize(streams: readonly Stream[], waitMs: number): Promise<string[]> {
  const watches = streams.flatMap((s) => s.watches);
  await until(() => watches.every((w) => w.calls > 0), waitMs);
  await new Promise((resolve) => setImmediate(resolve));
  const v: string[] = [];
  const never = watches.filter((w) => w.calls === 0).length;
  if (never)
    v.push(`finalize() resolved while ${never} of ${watches.length} sends issued before it never ran their completion ` +
      `(within ${waitMs} ms after it resolved): every send completes exactly once, at finalize too (done(error) for what ` +
      `cannot go); the PML waits on each`);
  const twice = watches.filter((w) => w.calls > 1).length;
  if (twice) v.push(`${twice} of ${watches.length} sends issued before finalize() ran their completion more than once`);
  return v;
}

export interface FinalizeStoppedContext {
  readonly wiring: Wiring;
  readonly host: KitHost;
  readonly waitMs: number;
  readonly stop: StopControl;
  readonly name: string;
  /** Finalizes the component's modules (the framework's unload: finalize, then close). */
  readonly unload: () => Promise<void>;
}

/**
 * finalize-stopped-peer: the odd ranks are stopped; the even ranks send to them until `send`
 * returns false, so sends are pending, and finalize their modules (no delProcs first, as at a
 * failure or a shutdown). finalize must resolve within the kit's grace: what cannot go it fails
 * (each send's completion runs once), but it must not wait for a peer that does not read. The
 * stopped ranks are continued once every even rank's finalize resolved or the grace ran out, then
 * finalize theirs.
 */
export async function checkFinalizeStoppedPeer(ctx: FinalizeStoppedContext): Promise<Verdict> {
  const { wiring, host, waitMs, stop, name } = ctx;
  const skip = inapplicable(wiring, stop);
  if (skip) {
    await bounded(`finalize() of btl ${name}`, ctx.unload(), callLimitMs(waitMs)).catch(() => {});
    return skip;
  }
  const v: string[] = [];
  const odd = oddRanks(wiring);
  const me = wiring.rank;
  const grace = callLimitMs(waitMs);
  const releasers = wiring.reach.length - odd.length;
  // What the stopped ranks read once continued is of no interest: only the finalize is.
  host.sink(tagOf(KitTest.FINALIZE_STOPPED), () => {});
  await wiring.sync('finalize-stopped-start');
  if (odd.includes(me)) {
    // Stopped until every even rank's finalize resolved or ran out of time.
    if (!(await stop.stopMe(FINALIZE, grace + waitMs, releasers, grace * 2 + waitMs)))
      v.push(`this rank asked the kit's runner to stop it and was not continued within ${grace * 2 + waitMs} ms`);
    await bounded(`finalize() of btl ${name} (its peers finalized while it was stopped)`, ctx.unload(), grace).catch((error: Error) =>
      v.push(error.message),
    );
  } else {
    try {
      const running = await stop.waitStopped(FINALIZE, odd, grace);
      if (running.length) v.push(`rank(s) ${running.join(', ')} were not stopped by the kit's runner (SIGSTOP) within ${grace} ms`);
      const streams = running.length ? [] : streamsTo(wiring, odd);
      for (const s of streams) sendUntilFalse(s, me, KitTest.FINALIZE_STOPPED);
      v.push(...streams.flatMap((s) => (s.threw ? [s.threw] : [])));
      const pending = streams.reduce((n, s) => n + s.watches.filter((w) => w.calls === 0).length, 0);
      let resolved = false;
      try {
        await bounded(`finalize() of btl ${name}`, ctx.unload(), grace);
        resolved = true;
      } catch (error) {
        if (!(error instanceof PendingCallError)) throw error;
        v.push(`${error.message}, called with ${pending} send(s) to rank(s) ${odd.join(', ')} pending while ${odd.length > 1 ? 'they were' :
          'it was'} stopped (SIGSTOP, a long compute phase): finalize must not wait for a peer that does not read; it may fail ` +
          `(done(error)) what cannot go`);
      }
      // Checked while the peers are still stopped, so nothing pending can have drained to them.
      if (resolved) v.push(...(await completedAtFinalize(streams, waitMs)));
    } catch (error) {
      v.push(`finalize() of btl ${name} threw: ${(error as Error).message}`);
    } finally {
      for (const r of odd) stop.release(FINALIZE, r);
    }
  }
  await wiring.sync('finalize-stopped-end');
  host.sink(tagOf(KitTest.FINALIZE_STOPPED), undefined);
  host.takeStrays();
  return verdictOf(v);
}
