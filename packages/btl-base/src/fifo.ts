/**
 * A first-in first-out queue with O(1) push and shift: a ring whose capacity doubles when full
 * and is never reallocated otherwise. Send queues hold tens of thousands of small frames under
 * load, and `Array.prototype.shift` is linear once V8 gives up trimming. It also reads and
 * removes at any position (the PML's matching takes the oldest entry that matches, usually at
 * or near the front).
 */
export class Fifo<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length += 1;
  }

  peek(): T | undefined {
    return this.#length ? this.#items[this.#head] : undefined;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length -= 1;
    return item;
  }

  /** The entry at position `i` (0: the oldest); `i` must be below `length`. */
  at(i: number): T {
    return this.#items[(this.#head + i) & (this.#items.length - 1)] as T;
  }

  /** Removes and returns the entry at `i` (below `length`), moving whichever side of it is shorter. */
  removeAt(i: number): T {
    const item = this.at(i);
    const items = this.#items;
    const mask = items.length - 1;
    const head = this.#head;
    if (i < this.#length / 2) {
      for (let k = i; k > 0; k--) items[(head + k) & mask] = items[(head + k - 1) & mask];
      items[head] = undefined;
      this.#head = (head + 1) & mask;
    } else {
      for (let k = i; k < this.#length - 1; k++) items[(head + k) & mask] = items[(head + k + 1) & mask];
      items[(head + this.#length - 1) & mask] = undefined;
    }
    this.#length -= 1;
    return item;
  }

  indexOf(item: T): number {
    for (let i = 0; i < this.#length; i++) if (this.at(i) === item) return i;
    return -1;
  }

  find(test: (item: T) => boolean): T | undefined {
    for (let i = 0; i < this.#length; i++) if (test(this.at(i))) return this.at(i);
    return undefined;
  }

  map<U>(f: (item: T) => U): U[] {
    const out: U[] = new Array(this.#length);
    for (let i = 0; i < this.#length; i++) out[i] = f(this.at(i));
    return out;
  }

  /** Removes the entries `test` picks, keeping the others in order; returns the removed, oldest first. */
  removeWhere(test: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const item of this.drain()) {
      if (test(item)) removed.push(item);
      else this.push(item);
    }
    return removed;
  }

  /** Empties the queue, dropping what it held. */
  clear(): void {
    this.#items = new Array(16);
    this.#head = 0;
    this.#length = 0;
  }

  /** Empties the queue, returning what it held in order. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#length) out.push(this.shift()!);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & (this.#items.length - 1)] as T;
  }

  #grow(): void {
    const old = this.#items;
    const items: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) items[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = items;
    this.#head = 0;
  }
}
