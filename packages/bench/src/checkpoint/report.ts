import type { CheckpointRun } from './run.js';

const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2));
const mb = (n: number) => (n / 1e6).toFixed(1);
const range = (xs: readonly number[], f: (n: number) => string) => `${f(Math.min(...xs))}-${f(Math.max(...xs))}`;

/** Rows of cells, right-aligned under their headers. */
function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** The figures as two tables (times in ms, sizes in MB), one row per job size. */
export function renderCheckpointText(runs: readonly CheckpointRun[]): string {
  const saved = runs.map((r) => {
    const s = r.saveRestore;
    return [String(r.np), ms(r.iterationMs), ms(s.prepareMs), ms(s.dumpMs), ms(s.restoreMs), ms(s.continueMs), range(s.pauseMs, ms),
      range(s.imageBytes, mb), mb(s.launcherImageBytes), mb(s.imagesBytes), r.ok ? 'yes' : 'NO'];
  });
  const kept = runs.map((r) => {
    const l = r.leaveRunning;
    return [String(r.np), ms(r.iterationMs), ms(l.prepareMs), ms(l.dumpMs), ms(l.continueMs), range(l.pauseMs, ms)];
  });
  const savedHeaders = ['ranks', 'iteration', 'prepare', 'dump', 'restore', 'continue', 'pause', 'MB/rank', 'launcher', 'total'];
  savedHeaders.push('in order');
  return (
    'save, then restore (the job gone in between): times in ms, images in MB; pause: each rank\'s longest iteration (min-max)\n' +
    table(savedHeaders, saved) +
    '\nsave --leave-running (the job runs on), ms\n' +
    table(['ranks', 'iteration', 'prepare', 'dump', 'continue', 'pause'], kept)
  );
}
