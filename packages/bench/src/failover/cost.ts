/**
 * The steady-state cost of failover protection: latency at 0 B and bandwidth at 4 KiB over tcp
 * with `pml_failover` true and false, measured by `switchyard bench`'s machinery (the two runs
 * take turns batch by batch, so both are timed in the same state of the machine).
 */
import { BenchRunError } from '../errors.js';
import { buildPhases } from '../plan.js';
import { runTransports, type BenchEnvironment } from '../run-bench.js';
import type { Transport, TransportRun } from '../types.js';
import type { FailoverOptions } from './options.js';

export const COST_LATENCY_SIZE = 0;
export const COST_BANDWIDTH_SIZE = 4096;

export interface CostRun {
  /** Why it could not be measured (the runs failed). */
  readonly error?: string;
  /** Half round trip at 0 B, µs. */
  readonly latency?: { readonly on: number; readonly off: number };
  /** MB/s at 4 KiB. */
  readonly bandwidth?: { readonly on: number; readonly off: number };
}

const variant = (on: boolean): Transport => ({
  kind: 'switchyard',
  btl: 'tcp',
  variant: { name: on ? 'failover' : 'nofailover', mca: [['pml_failover', String(on)]] },
});

export async function measureCost(options: FailoverOptions, env: BenchEnvironment): Promise<CostRun> {
  env.display.phase('cost of the protection: tcp latency at 0 B and bandwidth at 4 KiB, pml_failover true and false');
  const phases = [
    ...buildPhases(['latency'], [COST_LATENCY_SIZE], options.iterationsScale),
    ...buildPhases(['bandwidth'], [COST_BANDWIDTH_SIZE], options.iterationsScale),
  ];
  let runs: TransportRun[];
  try {
    runs = await runTransports(
      [variant(true), variant(false)],
      phases,
      { mca: options.mca, iterationsScale: options.iterationsScale, modes: ['sleep'] },
      env,
    );
  } catch (err) {
    if (err instanceof BenchRunError) return { error: err.message };
    throw err;
  }
  const [on, off] = runs as [TransportRun, TransportRun];
  return {
    latency: { on: on.latency[0]!.usec, off: off.latency[0]!.usec },
    bandwidth: { on: on.bandwidth[0]!.mbps, off: off.bandwidth[0]!.mbps },
  };
}
