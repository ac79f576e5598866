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
