/**
 * Grouping per-rank lines that say the same thing ("ranks 0-3: would leave rank 2 without a
 * transport", "peers 1-3: send tcp, eager tcp"), for the coordinator's messages and the CLI.
 */
import { formatRankList } from './rank-list.js';

export interface RankGroup<T> {
  /** Ascending. */
  readonly ranks: number[];
  readonly value: T;
}

/** Groups entries whose `key` is equal; groups come in the order of their lowest rank. */
export function groupRanks<T>(entries: Iterable<readonly [number, T]>, key: (value: T) => string = String): RankGroup<T>[] {
  const groups = new Map<string, { ranks: number[]; value: T }>();
  for (const [rank, value] of entries) {
    const k = key(value);
    const group = groups.get(k);
    if (group) group.ranks.push(rank);
    else groups.set(k, { ranks: [rank], value });
  }
  return [...groups.values()]
    .map((g) => ({ ranks: [...new Set(g.ranks)].sort((a, b) => a - b), value: g.value }))
    .sort((a, b) => a.ranks[0]! - b.ranks[0]!);
}

/** `rank 2`, `ranks 0-3`, `peers 1,3` (with noun `peer`). */
export function rankLabel(ranks: readonly number[], noun = 'rank'): string {
  return `${noun}${ranks.length === 1 ? '' : 's'} ${formatRankList(ranks)}`;
}

/**
 * A runtime failure ("was killed by signal SIGTERM before answering") said of several ranks:
 * the verb agrees with the plural subject.
 */
export function pluralFailure(why: string, count: number): string {
  if (count === 1) return why;
  return why
    .replace(/^was\b/, 'were')
    .replace(/^has\b/, 'have')
    .replace(/^is\b/, 'are')
    .replace(/\bits out-of-band connection\b/, 'their out-of-band connections');
}
