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
      if (!byTag) return undefined;
      return tag !== wildcard ? byTag.get(tag)?.peek() : this.#oldestIn(byTag.values());
    }
    let best: T | undefined;
    for (const byTag of this.#bySource.values()) {
      const head = tag !== wildcard ? byTag.get(tag)?.peek() : this.#oldestIn(byTag.values());
      if (head !== undefined && (best === undefined || this.#orderOf(head) < this.#orderOf(best))) best = head;
    }
    return best;
  }

  /** Of the candidates, the one first in order. */
  first(...candidates: (T | undefined)[]): T | undefined {
    let best: T | undefined;
    for (const c of candidates) if (c !== undefined && (best === undefined || this.#orderOf(c) < this.#orderOf(best))) best = c;
    return best;
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

  #oldestIn(queues: Iterable<Fifo<T>>): T | undefined {
    let best: T | undefined;
    for (const q of queues) {
      const head = q.peek();
      if (head !== undefined && (best === undefined || this.#orderOf(head) < this.#orderOf(best))) best = head;
    }
    return best;
  }

  #sorted(entries: T[]): T[] {
    return entries.sort((a, b) => this.#orderOf(a) - this.#orderOf(b));
  }
}
