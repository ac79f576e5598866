/** What a rank of the checkpoint bench reports when it stops: one line on stdout. */
export interface CheckpointRankReport {
  readonly rank: number;
  readonly iterations: number;
  /** Messages that arrived with a number other than the next expected one from their source. */
  readonly errors: number;
  /** Messages received from each rank. */
  readonly received: readonly number[];
  readonly medianIterationMs: number;
  /** Iterations that took at least PAUSE_FLOOR_MS: when they started (epoch ms) and how long. */
  readonly pauses: ReadonlyArray<{ readonly at: number; readonly ms: number }>;
}

export const CKPT_REPORT_PREFIX = 'BENCH-CKPT ';

/** Shorter iterations are the job's own rhythm, not a checkpoint's pause. */
export const PAUSE_FLOOR_MS = 20;

/** The reports among the job's output lines. */
export function parseReports(output: string): CheckpointRankReport[] {
  return output
    .split('\n')
    .map((l) => l.replace(/^\[\d+\]\s*/, ''))
    .filter((l) => l.startsWith(CKPT_REPORT_PREFIX))
    .map((l) => JSON.parse(l.slice(CKPT_REPORT_PREFIX.length)) as CheckpointRankReport)
    .sort((a, b) => a.rank - b.rank);
}
