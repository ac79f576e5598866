/**
 * A rank's context pairs (pair n: context 2n for point-to-point, 2n + 1 for collectives; the
 * world has pair 0): taken by a communicator for good, or held by a creation under way while
 * its ranks agree. Several creations may be under way at once (on the world and on a split of
 * it), so a pair one of them proposes is held until its agreement ends: the other cannot take it.
 */
export class ContextPairs {
  readonly #taken = new Set<number>([0]);

  /** The lowest pair at `from` or above not taken here, now held for the caller. */
  holdLowest(from: number): number {
    let pair = Math.max(from, 1);
    while (this.#taken.has(pair)) pair++;
    this.#taken.add(pair);
    return pair;
  }

  /** Holds `pair` when it is free here (or is `held`, the caller's own proposal); false when another holds it. */
  tryHold(pair: number, held: number): boolean {
    if (pair === held) return true;
    if (this.#taken.has(pair)) return false;
    this.#taken.add(pair);
    return true;
  }

  release(pair: number): void {
    this.#taken.delete(pair);
  }
}
