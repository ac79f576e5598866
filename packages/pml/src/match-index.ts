import { Fifo } from '@switchyard/btl-base';

/**
 * Entries kept by (source, tag), each queue oldest first, every entry numbered in one order
 * across all queues (`orderOf`). Matching looks at queue heads only, so it costs the number of
 * queues it may look in, not the number of entries waiting: a receive from one rank is not
 * slowed by another rank's backlog (Open MPI's ob1 keeps per-peer queues for the same reason).
 *
 * Every entry a lookup can take is the head of its own queue: all entries of one queue have the
 * same source and tag, so the oldest that matches is the first.
 */
export class MatchIndex<T> {
  readonly #bySource = new Map<number, Map<number, Fifo<T>>>();
  readonly #orderOf: (entry: T) => number;
  #length = 0;

  constructor(orderOf: (entry: T) => number) {
    this.#orderOf = orderOf;
  }

  get length(): number {
    return this.#length;
  }

  push(source: number, tag: number, entry: T): void {
    let byTag = this.#bySource.get(source);
    if (!byTag) this.#bySource.set(source, (byTag = new Map()));
    let queue = byTag.get(tag);
    if (!queue) byTag.set(tag, (queue = new Fifo()));
    queue.push(entry);
    this.#length += 1;
  }

  /** The head of queue (source, tag), if any. */
  head(source: number, tag: number): T | undefined {
    return this.#bySource.get(source)?.get(tag)?.peek();
  }

  /**
   * The oldest head among the queues `source` and `tag` select, either of them `wildcard` for
   * every queue (ANY_SOURCE, ANY_TAG).
   */
  oldest(source: number, tag: number, wildcard: number): T | undefined {
    if (source !== wildcard) {
      const byTag = this.#bySource.get(source);
      return byTag && this.#oldestOf(byTag, tag, wildcard);
    }
    let best: T | undefined;
    for (const byTag of this.#bySource.values()) best = this.earlier(best, this.#oldestOf(byTag, tag, wildcard));
    return best;
  }

  /** The one of `a` and `b` first in order (either may be missing). */
  earlier(a: T | undefined, b: T | undefined): T | undefined {
    if (a === undefined) return b;
    if (b === undefined) return a;
    return this.#orderOf(b) < this.#orderOf(a) ? b : a;
  }

  /** Removes `entry` from queue (source, tag); false if it is not there. */
  remove(source: number, tag: number, entry: T): boolean {
    const byTag = this.#bySource.get(source);
    const queue = byTag?.get(tag);
    if (!byTag || !queue) return false;
    if (queue.peek() === entry) queue.shift();
    else {
      const i = queue.indexOf(entry);
      if (i < 0) return false;
      queue.removeAt(i);
    }
    this.#length -= 1;
    if (queue.length === 0) {
      byTag.delete(tag);
      if (byTag.size === 0) this.#bySource.delete(source);
    }
    return true;
  }

  /** Removes every entry kept under `source`, returned in order. */
  removeSource(source: number): T[] {
    const byTag = this.#bySource.get(source);
    if (!byTag) return [];
    this.#bySource.delete(source);
    const out = [...byTag.values()].flatMap((q) => q.drain());
    this.#length -= out.length;
    return this.#sorted(out);
  }

  /** Every entry, in order (status reports). */
  all(): T[] {
    return this.#sorted([...this.#bySource.values()].flatMap((byTag) => [...byTag.values()].flatMap((q) => [...q])));
  }

  /** The oldest head among one source's queues that `tag` selects. */
  #oldestOf(byTag: Map<number, Fifo<T>>, tag: number, wildcard: number): T | undefined {
    if (tag !== wildcard) return byTag.get(tag)?.peek();
    let best: T | undefined;
    for (const queue of byTag.values()) best = this.earlier(best, queue.peek());
    return best;
  }

  #sorted(entries: T[]): T[] {
    return entries.sort((a, b) => this.#orderOf(a) - this.#orderOf(b));
  }
}
