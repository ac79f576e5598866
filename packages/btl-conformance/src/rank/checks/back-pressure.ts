import type { BtlModule } from '@switchyard/btl-interface';
import { KitTest } from '../fragments.js';
import { callLimitMs } from '../pending.js';
import { runRound } from '../round.js';
import { NO_STOPS, type StopControl } from '../stop.js';
import type { TrafficContext } from './traffic.js';
import { verdictOf, type Verdict } from './verdict.js';

const BACK_PRESSURE = 'back-pressure';
/** The longest an odd rank stays stopped; its even peers release it as soon as they have handed over their sends. */
const STOP_CAP_MS = 10_000;

/**
 * back-pressure: a receiver that stops, then reads slowly, still gets everything; and a sender
 * learns to wait. The odd ranks are stopped from outside (SIGSTOP by the kit's runner) until
 * every even peer has handed the module all it could before `send` said false: a stop bounded
 * by events, not by a clock, so a busy machine that is slow to send cannot find them reading.
 */
export async function checkBackPressure(
  { wiring, host, waitMs }: TrafficContext,
  stop: StopControl,
  bytesPerPeer = 24 * 1024 * 1024,
): Promise<Verdict> {
  if (!stop.available) return verdictOf([NO_STOPS]);
  const sizes = (module: BtlModule) => {
    const size = Math.min(module.maxSendSize, 256 * 1024);
    return Array(Math.ceil(bytesPerPeer / size)).fill(size);
  };
  const slowly = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const me = wiring.rank;
  const odd = me % 2 === 1;
  const peers = [...new Set(wiring.endpoints.flatMap((map) => [...map.keys()]))].filter((r) => r !== me);
  const oddPeers = peers.filter((r) => r % 2 === 1);
  const evenPeers = peers.filter((r) => r % 2 === 0);
  const limit = callLimitMs(waitMs);
  const v: string[] = [];
  let peersStopped = false;
  let received = 0;
  const round = await runRound(wiring, host, BACK_PRESSURE, {
    test: KitTest.BACK_PRESSURE,
    sizes: (_, i) => sizes(wiring.modules[i]!),
    checkOrder: true,
    // Their peers' data piles up in the module and the kernel meanwhile.
    beforeSend: async () => {
      if (odd && evenPeers.length) {
        if (!(await stop.stopMe(BACK_PRESSURE, STOP_CAP_MS, evenPeers.length, STOP_CAP_MS + limit)))
          v.push(`this rank asked the kit's runner to stop it and was not continued within ${STOP_CAP_MS + limit} ms`);
      } else if (oddPeers.length) {
        const running = await stop.waitStopped(BACK_PRESSURE, oddPeers, limit);
        if (running.length) v.push(`rank(s) ${running.join(', ')} were not stopped by the kit's runner (SIGSTOP) within ${limit} ms`);
        peersStopped = !running.length;
      }
    },
    afterHandOver: () => {
      if (!odd) for (const r of oddPeers) stop.release(BACK_PRESSURE, r);
    },
    onReceive: () => ++received % 8 === 0 && slowly(2),
    waitMs: waitMs * 2,
    stallMs: waitMs,
  });
  host.log(`back-pressure: ${round.fragments} fragments sent, send returned false ${round.refusals} times`);
  // An even rank handed 24 MiB to stopped odd ranks: a module that never answered false queues
  // without bound (a high-water mark counted in fragments, not bytes, or none at all).
  if (peersStopped && round.refusals === 0)
    v.push(`${bytesPerPeer / 1024 / 1024} MiB went at once to each endpoint, rank(s) ${oddPeers.join(', ')} stopped, and send() ` +
      `never returned false: the module queues without bound (send must return false once the bytes queued to an endpoint pass ` +
      `its high-water mark, which must be below that)`);
  return verdictOf([...round.violations, ...v]);
}
