import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import { timeout } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { verdictOf, type Verdict } from './verdict.js';

const BURST = 64;
/**
 * A few small sends: far below any stream's high-water mark, so a flush that waits only for a
 * socket's 'drain' (needed only above the mark) resolves before their completions have run.
 */
const SMALL_BURST = 4;

/** flush: resolves only once every send issued before it completed; with nothing pending, resolves. */
export async function checkFlush({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const v: string[] = [];
  const expected = wiring.senders().length * (BURST * 2 + SMALL_BURST);
  let count = 0;
  let arrived: () => void = () => {};
  const all = new Promise<void>((resolve) => (arrived = resolve));
  host.sink(tagOf(KitTest.FLUSH), (from, data) => {
    const id = readFragment(KitTest.FLUSH, data);
    if (typeof id === 'string') v.push(`from rank ${from}: ${id}`);
    if (++count >= expected) arrived();
  });
  if (expected === 0) arrived();
  await wiring.sync('flush-start');
  let seq = 0;
  const mixed = (i: number) => (i % 8 === 0 ? 128 * 1024 : 2000);
  const burst = (module: BtlModule, moduleIndex: number, endpoint: BtlEndpoint, count = BURST, sizeOf = mixed) => {
    const pending = new Set<number>();
    for (let i = 0; i < count; i++, seq++) {
      const mine = seq;
      pending.add(mine);
      const size = Math.min(module.maxSendSize, sizeOf(i));
      module.send(
        endpoint,
        tagOf(KitTest.FLUSH),
        [makeFragment(KitTest.FLUSH, { sender: wiring.rank, seq: mine, moduleIndex }, Math.max(size, 20))],
        () => pending.delete(mine),
      );
    }
    return pending;
  };
  const flushed = async (what: string, flush: Promise<void>, pending: Array<Set<number>>) => {
    const wait = timeout(waitMs);
    const ok = await Promise.race([flush.then(() => true), wait.promise]);
    wait.cancel();
    if (!ok) return v.push(`${what} did not resolve within ${waitMs} ms`);
    const left = pending.reduce((n, p) => n + p.size, 0);
    if (left) v.push(`${what} resolved while ${left} send(s) issued before it had not run their completion`);
  };
  for (const [i, module] of wiring.modules.entries()) {
    for (const endpoint of wiring.endpoints[i]!.values()) {
      const small = burst(module, i, endpoint, SMALL_BURST, () => 200);
      const afterSmall = `flush(endpoint of rank ${endpoint.rank}) on '${module.name}' after ${SMALL_BURST} small sends`;
      await flushed(afterSmall, module.flush(endpoint), [small]);
      const pending = burst(module, i, endpoint);
      await flushed(`flush(endpoint of rank ${endpoint.rank}) on '${module.name}'`, module.flush(endpoint), [pending]);
    }
    const pending = [...wiring.endpoints[i]!.values()].map((endpoint) => burst(module, i, endpoint));
    await flushed(`flush() on '${module.name}'`, module.flush(), pending);
    await flushed(`flush() on '${module.name}' with nothing pending`, module.flush(), []);
  }
  const wait = timeout(waitMs);
  if (!(await Promise.race([all.then(() => true), wait.promise])))
    v.push(`after ${waitMs} ms only ${count} of ${expected} flushed fragments had arrived`);
  wait.cancel();
  host.sink(tagOf(KitTest.FLUSH), undefined);
  await wiring.sync('flush-end');
  return verdictOf([...v, ...host.takeStrays()]);
}
