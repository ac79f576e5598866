/**
 * Bounds the collective steps (modex fences) of a verb's commit or rollback. A rank that never
 * joins one (stopped, or gone on to another step after a failure) would keep every other rank in
 * it for ever, and with them their answer and their rollback. Once the phase has run for its
 * budget (the verb's time less a margin to answer in, as its drains get), the launcher closes the
 * phase's fences: every rank fails the step the same way, those in it and those that come late,
 * answers, and can be rolled back.
 */
import type { ControlHost } from '@switchyard/runtime';

/** How often the watch looks at the ranks: the budget is seconds, a quarter second late is nothing. */
const WATCH_INTERVAL_MS = 250;

export interface FenceWatch {
  readonly prefix: string;
  /** How long the phase's fences may stay open. */
  readonly budgetMs: number;
  /** No --timeout: the budget counts from the last moment a rank was busy in application code (it joins once its code yields). */
  readonly patient: boolean;
  /** What gave up, for the ranks' message: "the commit of 'load openib'". */
  readonly what: string;
}

/** Starts watching; the function returned stops it (call it once the phase is answered). */
export function watchFences(job: ControlHost, watch: FenceWatch): () => void {
  const close = job.closeFences?.bind(job);
  if (!close) return () => {};
  const started = performance.now();
  let from = started;
  const timer = setInterval(() => {
    const now = performance.now();
    const ranks = job.status().ranks;
    // A stopped rank joins nothing however long the others compute: patience ends with it (any
    // rank: one the phase does not wait for, its rollback sent but not awaited, may be the missing one).
    const stopped = ranks.some((r) => r.stopped);
    if (watch.patient && !stopped && ranks.some((r) => r.busyMs !== undefined)) from = now;
    if (now - from < watch.budgetMs) return;
    clearInterval(timer);
    close(watch.prefix, `${watch.what} gave up on it after ${Math.round(now - started)} ms`);
  }, WATCH_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
