import type { CheckpointRun } from './run.js';

const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const mb = (n: number) => (n / 1e6).toFixed(1);
const range = (xs: readonly number[]) => (xs.length ? `${ms(Math.min(...xs))}-${ms(Math.max(...xs))}` : '-');

/** The figures as two tables (times in ms, sizes in MB), one row per job size. */
export function renderCheckpointText(runs: readonly CheckpointRun[]): string {
  let out = 'save and restore (the job gone in between), ms; images MB\n';
  out += 'ranks  iteration  prepare  dump  restore  continue  pause (ranks)  image/rank  launcher  total  in order\n';
  for (const r of runs) {
    const s = r.saveRestore;
    const cols = [r.np, ms(r.iterationMs), ms(s.prepareMs), ms(s.dumpMs), ms(s.restoreMs), ms(s.continueMs), range(s.pauseMs)];
    cols.push(`${mb(Math.min(...s.imageBytes))}-${mb(Math.max(...s.imageBytes))}`, mb(s.launcherImageBytes), mb(s.imagesBytes));
    out += `${cols.map(String).join('  ')}  ${r.ok ? 'yes' : 'NO'}\n`;
  }
  out += '\nsave --leave-running (the job runs on), ms\n';
  out += 'ranks  iteration  prepare  dump  continue  pause (ranks)\n';
  for (const r of runs) {
    const l = r.leaveRunning;
    out += `${[r.np, ms(r.iterationMs), ms(l.prepareMs), ms(l.dumpMs), ms(l.continueMs), range(l.pauseMs)].map(String).join('  ')}\n`;
  }
  return out;
}
