import type { RankReport } from '../src/switch/plan.js';

/** A 2-rank job's report from rank `r` (10 rounds, nothing lost), with `fields` in place of the defaults. */
export function rankReport(r: number, fields: Partial<RankReport> = {}): RankReport {
  return {
    rank: r,
    pid: 1,
    rounds: 10,
    received: r === 0 ? [0, 10] : [10, 0],
    sent: r === 0 ? [0, 10] : [10, 0],
    integrity: { lost: 0, duplicates: 0, reordered: 0, corrupt: 0 },
    messages: 10,
    bytes: 100,
    inside: { messages: 0, bytes: 0 },
    outside: { messages: 10, bytes: 100 },
    longestPause: null,
    longestPauseBetween: null,
    longestBlock: null,
    perVerb: [],
    windowPauses: [],
    timeline: [],
    ...fields,
  };
}
