import { formatSize } from '../sizes.js';
import type { CollFigure } from './cases.js';
import type { CollOptions } from './options.js';

/** The target: Switchyard within this factor of Open MPI's tcp figures, at `TARGET_NP` ranks. */
export const TARGET_RATIO = 1.5;
export const TARGET_NP = 4;

/** One row: a case, Switchyard's time and Open MPI's beside it, their ratio and the target's verdict. */
export interface CollRow {
  readonly coll: string;
  readonly size: number;
  readonly np: number;
  readonly switchyardUs: number;
  readonly ompiUs?: number;
  /** switchyard / Open MPI: above 1, Switchyard is slower. */
  readonly ratio?: number;
  /** At TARGET_NP ranks with Open MPI measured: PASS when the ratio is within TARGET_RATIO. */
  readonly target?: 'PASS' | 'MISS';
}

export function collRows(switchyard: readonly CollFigure[], ompi: readonly CollFigure[]): CollRow[] {
  return switchyard.map((s) => {
    const o = ompi.find((f) => f.coll === s.coll && f.size === s.size && f.np === s.np);
    if (!o) return { coll: s.coll, size: s.size, np: s.np, switchyardUs: s.us };
    const ratio = Math.round((s.us / o.us) * 100) / 100;
    const target = s.np === TARGET_NP ? (ratio <= TARGET_RATIO ? 'PASS' : 'MISS') : undefined;
    return { coll: s.coll, size: s.size, np: s.np, switchyardUs: s.us, ompiUs: o.us, ratio, ...(target ? { target } : {}) };
  });
}

export function renderCollJson(options: CollOptions, rows: readonly CollRow[]): string {
  const doc = {
    benchmark: 'coll',
    unit: 'µs per operation (median of 5 batches of the slowest rank)',
    nps: options.nps,
    sizes: options.sizes,
    colls: options.colls,
    iterationsScale: options.iterationsScale,
    ompi: options.ompi,
    target: { np: TARGET_NP, maxRatio: TARGET_RATIO, against: 'ompi-tcp' },
    rows,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** A table per rank count: switchyard-tcp, ompi-tcp, their ratio, and the target where it applies. */
export function renderCollText(options: CollOptions, rows: readonly CollRow[]): string {
  let out = '';
  for (const np of options.nps) {
    const mine = rows.filter((r) => r.np === np);
    if (!mine.length) continue;
    const header = ['COLL', 'SIZE', 'SWITCHYARD-TCP µs', ...(options.ompi ? ['OMPI-TCP µs', 'RATIO', 'TARGET'] : [])];
    const cells = mine.map((r) => [
      r.coll,
      formatSize(r.size),
      us(r.switchyardUs),
      ...(options.ompi
        ? [r.ompiUs === undefined ? '-' : us(r.ompiUs), r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`, r.target ?? '-']
        : []),
    ]);
    out += `${np} ranks:\n${table(header, cells)}\n`;
  }
  if (options.ompi) {
    const judged = rows.filter((r) => r.target);
    const missed = judged.filter((r) => r.target === 'MISS');
    const passed = judged.length - missed.length;
    out += `target: within ${TARGET_RATIO}x of Open MPI's tcp at ${TARGET_NP} ranks: ${passed}/${judged.length} PASS`;
    const list = missed.map((r) => `${r.coll} ${formatSize(r.size)} ${r.ratio}x`).join(', ');
    out += missed.length ? ` (MISS: ${list})\n` : '\n';
  }
  return out;
}

function us(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cell = (c: string, i: number) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!));
  const line = (cells: string[]) => `  ${cells.map(cell).join('  ')}\n`;
  return [header, ...rows].map(line).join('');
}
