import { UsageError } from '@switchyard/cli-kit';

/** Weeks of runs at the default counts: past this a scale is a typo, and the stall timers overflow. */
const MAX_ITERATIONS_SCALE = 1000;

/** `--iterations-scale` of every bench: a number above 0 and at most MAX_ITERATIONS_SCALE (default 1). */
export function iterationsScaleOf(text: string | undefined): number {
  const scaleText = text ?? '1';
  const value = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(scaleText) ? Number(scaleText) : NaN;
  if (!Number.isFinite(value) || value <= 0 || value > MAX_ITERATIONS_SCALE) {
    const range = `a number greater than 0 and at most ${MAX_ITERATIONS_SCALE}`;
    throw new UsageError(`--iterations-scale takes ${range} (e.g. 0.1), got '${scaleText}'`);
  }
  return value;
}
