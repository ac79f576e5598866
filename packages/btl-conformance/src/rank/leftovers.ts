/**
 * Fragments that come up on the tag of a rule that has ended: a slow link still delivering what
 * that rule sent (what a failed rule typically leaves queued). They belong to that rule, so the
 * rule running when they arrive is not charged with them; its verdict only names them when it
 * fails for reasons of its own, so an author chasing that failure knows the earlier rule's
 * traffic was still arriving.
 */
export class Leftovers {
  /** The rule that last listened on each tag. */
  readonly #owners = new Map<number, string>();
  /** Fragments of earlier rules that arrived during the current one, by earlier rule. */
  readonly #arrived = new Map<string, number>();
  #rule?: string;

  /** A rule's check begins: what arrives of earlier rules from now on is counted for it afresh. */
  enter(rule: string): void {
    this.#rule = rule;
    this.#arrived.clear();
  }

  /** The current rule listens on `tag`. */
  listening(tag: number): void {
    if (this.#rule !== undefined) this.#owners.set(tag, this.#rule);
  }

  /**
   * A fragment came up on `tag` while nothing listened on it: the earlier rule it is left over
   * from (counted), or undefined when it is the current rule's to answer for (its own tag, or one
   * no rule listened on).
   */
  claim(tag: number): string | undefined {
    const owner = this.#owners.get(tag);
    if (owner === undefined || owner === this.#rule) return undefined;
    this.#arrived.set(owner, (this.#arrived.get(owner) ?? 0) + 1);
    return owner;
  }

  /** What of earlier rules arrived during the current one, in words, or undefined when nothing did. */
  describe(): string | undefined {
    if (!this.#arrived.size) return undefined;
    const each = [...this.#arrived].map(([rule, n]) => `${n} fragment(s) left over from rule '${rule}'`);
    return `meanwhile ${each.join(', ')} arrived (still queued when that rule ended; not counted against this one)`;
  }
}
