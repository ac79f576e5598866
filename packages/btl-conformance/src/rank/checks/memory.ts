import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KitTest } from '../fragments.js';
import { runRound } from '../round.js';
import type { TrafficContext } from './traffic.js';

/** Bytes each rank sends to each endpoint: far above any fixed cache or pool, so what is kept per byte shows. */
const PER_ENDPOINT = 24 * 1024 * 1024;
const FRAGMENT = 256 * 1024;

/** The collector, reachable without starting the rank with --expose-gc. */
export function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The rank's JavaScript heap and the memory outside it (Buffers, ArrayBuffers), after a full collection. */
export function measured(gc: () => void): number {
  gc();
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

export const mib = (bytes: number) => `${Math.round(bytes / 1024 / 102.4) / 10} MiB`;

/**
 * Memory a module keeps must not grow with the bytes it carries (a log of sent frames kept for a
 * replay, a map of every message id): every rank sends 24 MiB to each endpoint, and after a full
 * collection its memory may have grown by at most half of what it sent. A generous margin (the
 * fault keeps all of it), so a pool or cache of a fixed size passes.
 */
export async function memoryGrowth({ wiring, host, waitMs }: TrafficContext): Promise<string[]> {
  const gc = collector();
  await wiring.sync('memory-start');
  const before = measured(gc);
  const sizesFor = (i: number) => {
    const size = Math.min(FRAGMENT, wiring.modules[i]!.maxSendSize);
    return Array<number>(Math.ceil(PER_ENDPOINT / size)).fill(size);
  };
  const sent = wiring.modules.reduce((sum, _, i) => sum + wiring.endpoints[i]!.size * sizesFor(i).length * sizesFor(i)[0]!, 0);
  const sizes = (_: number, i: number) => sizesFor(i);
  const round = await runRound(wiring, host, 'memory', { test: KitTest.MEMORY, sizes, waitMs: 2 * waitMs, stallMs: waitMs });
  if (round.violations.length) return round.violations.map((p) => `while ${mib(sent)} went out for the memory check: ${p}`);
  const growth = measured(gc) - before;
  host.log(`soak: sent ${mib(sent)}, memory grew by ${mib(growth)} (at most ${mib(sent / 2)} allowed)`);
  if (growth <= sent / 2) return [];
  return [`after sending ${mib(sent)} (and a full garbage collection) the rank's memory had grown by ${mib(growth)}: the module keeps ` +
    `what it sends (a replay log, a copy per fragment); memory must not grow with the bytes carried`];
}
