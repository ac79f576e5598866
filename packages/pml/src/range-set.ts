/**
 * The byte ranges of a message that arrived, so a fragment that comes twice (sent again after
 * a fault, possibly cut differently) is counted once. Fragments mostly arrive in order, so the
 * common case is one range growing at its end.
 */
export class RangeSet {
  /** Sorted, disjoint, non-adjacent [start, end) pairs, flattened. */
  readonly #bounds: number[] = [];
  #covered = 0;

  /** Bytes covered by the ranges added. */
  get covered(): number {
    return this.#covered;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const b = this.#bounds;
    const last = b.length - 1;
    if (last > 0 && b[last] === start) {
      b[last] = end;
      this.#covered += end - start;
      return;
    }
    if (last < 0 || b[last]! < start) {
      b.push(start, end);
      this.#covered += end - start;
      return;
    }
    // Out of order or overlapping: merge the general way.
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < b.length; i += 2) pairs.push([b[i]!, b[i + 1]!]);
    pairs.push([start, end]);
    pairs.sort((x, y) => x[0] - y[0]);
    b.length = 0;
    let covered = 0;
    for (const [s, e] of pairs) {
      if (b.length && s <= b[b.length - 1]!) {
        const top = b.length - 1;
        if (e > b[top]!) {
          covered += e - b[top]!;
          b[top] = e;
        }
      } else {
        b.push(s, e);
        covered += e - s;
      }
    }
    this.#covered = covered;
  }
}
