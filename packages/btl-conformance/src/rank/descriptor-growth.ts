import { openDescriptors } from './open-descriptors.js';

const CYCLES = 3;
const SETTLE_MS = 1500;

/**
 * A descriptor a module opens at init and its finalize forgets (a ring file, a device) stays
 * for good: one more per load. A count taken once cannot tell it from one the runtime opened
 * meanwhile, so the component is loaded and unloaded `CYCLES` times (the reload checked before
 * is the first) and only a count that grows with every cycle is a leak. Names what was left.
 */
export class DescriptorGrowth {
  readonly #before = openDescriptors();
  readonly #counts: number[] = [];

  /** Counts, after a finalize, what was opened since the first load and is still open; waits for closes under way. */
  async afterFinalize(): Promise<void> {
    if (!this.#before) return;
    const last = this.#counts.at(-1) ?? 0;
    const deadline = Date.now() + SETTLE_MS;
    let count = this.#opened().length;
    while (count > last && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      count = this.#opened().length;
    }
    this.#counts.push(count);
  }

  /** The load and unload cycles still to run after the first. */
  get cyclesLeft(): number {
    return this.#before ? CYCLES - this.#counts.length : 0;
  }

  /** A problem when every cycle left more descriptors open than the one before. */
  problem(name: string): string | undefined {
    const counts = this.#counts;
    if (counts.length < CYCLES || !counts.every((n, i) => n > (i ? counts[i - 1]! : 0))) return undefined;
    const left = this.#opened();
    const shown = left.slice(0, 4).map(([fd, target]) => `fd ${fd} -> ${target}`).join(', ');
    return `after ${CYCLES} loads of btl ${name}, each followed by delProcs or unload (finalize), the open file descriptors grew with ` +
      `every cycle (${counts.join(', ')} opened since the first load and still open): ${shown}${left.length > 4 ? ', ...' : ''} ` +
      `(finalize must close what init opened: a job that reloads the transport runs out of descriptors)`;
  }

  #opened(): Array<[string, string]> {
    return [...(openDescriptors() ?? new Map<string, string>())].filter(([fd, target]) => this.#before!.get(fd) !== target);
  }
}
