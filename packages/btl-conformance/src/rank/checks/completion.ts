import { KitTest, makeFragment, tagOf } from '../fragments.js';
import { bounded, callLimitMs, PendingCallError } from '../pending.js';
import { sendLedger } from '../send-ledger.js';
import { timeout } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { verdictOf, type Verdict } from './verdict.js';

/** One send's completion, watched: did it run inside send(), and how often. */
export class WatchedCompletion {
  calls = 0;
  error: Error | undefined;
  inSend = false;
  ranInsideSend = false;
  readonly #settled: Promise<void>;
  #resolve: () => void = () => {};

  constructor() {
    this.#settled = new Promise((resolve) => (this.#resolve = resolve));
  }

  readonly done = (error?: Error): void => {
    this.calls += 1;
    if (this.inSend) this.ranInsideSend = true;
    if (this.calls === 1) {
      this.error = error;
      this.#resolve();
    }
  };

  /** Resolves true at the first call, false after `ms`. */
  async settled(ms: number): Promise<boolean> {
    const wait = timeout(ms);
    const ok = await Promise.race([this.#settled.then(() => true), wait.promise]);
    wait.cancel();
    return ok;
  }
}

/** Calls send with a watched completion; a throw is returned as the problem. */
export function watchedSend(
  send: (done: (error?: Error) => void) => boolean,
): { watch: WatchedCompletion; threw?: Error; accepted?: boolean } {
  const watch = new WatchedCompletion();
  watch.inSend = true;
  try {
    const accepted = send(watch.done);
    return { watch, accepted };
  } catch (error) {
    return { watch, threw: error as Error };
  } finally {
    watch.inSend = false;
  }
}

/** A zero-byte send too: one completed only by the bytes it writes would never complete. */
const SIZES = [0, 64, 1500, 16 * 1024];

/**
 * completion: every send's completion runs, exactly once (a second call would complete the
 * PML's request twice: a buffer freed twice, a message counted twice). It may run inside send()
 * (btl-self does: it copies), so the kit does not require it later.
 */
export async function checkCompletion({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const v: string[] = [];
  host.sink(tagOf(KitTest.COMPLETION), () => {});
  await wiring.sync('completion-start');
  const watched: Array<{ what: string; watch: WatchedCompletion }> = [];
  for (const [i, module] of wiring.modules.entries()) {
    for (const [peer, endpoint] of wiring.endpoints[i]!) {
      for (const [n, wanted] of SIZES.entries()) {
        const size = Math.min(module.maxSendSize, wanted);
        const id = { sender: wiring.rank, seq: n, moduleIndex: i };
        const bytes = size === 0 ? new Uint8Array(0) : makeFragment(KitTest.COMPLETION, id, size);
        const what = `'${module.name}': the completion of a ${size}-byte send to rank ${peer}`;
        const sent = watchedSend((done) => module.send(endpoint, tagOf(KitTest.COMPLETION), [bytes], done));
        if (sent.threw) v.push(`${what.replace('the completion of ', '')} threw: ${sent.threw.message}`);
        else watched.push({ what, watch: sent.watch });
      }
    }
  }
  for (const { what, watch } of watched) if (!(await watch.settled(waitMs))) v.push(`${what} never ran (within ${waitMs} ms)`);
  for (const module of wiring.modules) {
    await bounded(`flush() on '${module.name}'`, module.flush(), callLimitMs(waitMs)).catch((error: Error) =>
      v.push(`${error.message}${error instanceof PendingCallError ? sendLedger.flushNote(module) : ''}`));
  }
  // A second call comes later than the first, if at all: give it the other ranks' time too.
  await wiring.sync('completion-flushed');
  await new Promise((resolve) => setImmediate(resolve));
  for (const { what, watch } of watched) {
    if (watch.calls > 1) v.push(`${what} ran ${watch.calls} times (it must run exactly once)`);
    else if (watch.calls === 1 && watch.error) v.push(`${what} reported an error: ${watch.error.message}`);
  }
  host.sink(tagOf(KitTest.COMPLETION), undefined);
  await wiring.sync('completion-end');
  return verdictOf([...v.slice(0, 8), ...host.takeStrays()]);
}
