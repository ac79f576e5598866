import { performance } from 'node:perf_hooks';
import type { GateClient } from './gate-client.js';
import { perBatch } from './stats.js';
import type { Phase, StepReport } from './types.js';

/**
 * One side of a two-process benchmark over some transport. Side 0 initiates and measures; side 1
 * answers. Both sides run the same step of the same phase when the gate says so.
 */
export interface BenchPeer {
  /** Both sides meet before a step (a barrier, a round trip); not timed. */
  sync(): Promise<void>;
  /** Side 0: `count` round trips of `size` bytes each way. */
  ping(size: number, count: number): Promise<void>;
  /** Side 1: answers `count` pings with as many bytes as they carried. */
  pong(size: number, count: number): Promise<void>;
  /** Side 0: `windows` times, `window` non-blocking sends of `size` bytes, then the receiver's 4-byte ack. */
  sendWindows(size: number, windows: number, window: number): Promise<void>;
  /** Side 1: receives `windows` windows, acking each. */
  recvWindows(size: number, windows: number, window: number): Promise<void>;
}

/**
 * Runs one step of a phase: step 0 is the warm-up (10% of the iterations), steps 1..batches one
 * timed batch each. Side 0 returns how long the step took.
 */
export async function runStep(side: 0 | 1, peer: BenchPeer, phase: Phase, step: number): Promise<number> {
  const { benchmark, size, window } = phase;
  const count = step === 0 ? phase.warmup : perBatch(phase);
  await peer.sync();
  if (side === 1) {
    await (benchmark === 'latency' ? peer.pong(size, count) : peer.recvWindows(size, count, window));
    return 0;
  }
  const t0 = performance.now();
  await (benchmark === 'latency' ? peer.ping(size, count) : peer.sendWindows(size, count, window));
  return performance.now() - t0;
}

/** Runs the steps the gate hands out until it says the run is over; side 0 reports each. */
export async function serve(side: 0 | 1, peer: BenchPeer, phases: readonly Phase[], gate: GateClient): Promise<void> {
  for (let next = await gate.next(); next !== undefined; next = await gate.next()) {
    const phase = phases[next.phase];
    if (!phase || next.step < 0 || next.step > phase.batches)
      throw new Error(`switchyard bench: no step ${next.step} of phase ${next.phase}`);
    const ms = await runStep(side, peer, phase, next.step);
    if (side === 0) gate.report({ phase: next.phase, step: next.step, ms } satisfies StepReport);
  }
}
