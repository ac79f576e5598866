import { constants } from 'node:os';

/** A transport's run could not be completed (its job failed, a process died, it stalled). */
export class BenchRunError extends Error {
  override readonly name = 'BenchRunError';
}

/** The bench was stopped by a signal; `exitCode` is 128 + its number. */
export class BenchInterrupted extends Error {
  override readonly name = 'BenchInterrupted';
  constructor(
    readonly signal: NodeJS.Signals,
    readonly exitCode: number,
  ) {
    super(`interrupted by ${signal}`);
  }
}

/** What to throw when the bench was stopped by a signal (the signal's name is the abort reason). */
export function interrupted(signal: AbortSignal): BenchInterrupted | undefined {
  if (!signal.aborted) return undefined;
  const name = String(signal.reason) as NodeJS.Signals;
  return new BenchInterrupted(name, 128 + (constants.signals[name] ?? constants.signals.SIGINT));
}
