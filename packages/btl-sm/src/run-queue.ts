import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** How often the run queue is read again while someone asks, in ms (a read costs about 5 µs). */
const SAMPLE_MS = 10;
/**
 * Samples further apart than this (ms) say nothing of the time between them: nobody asked (the
 * poller slept), and a crowded sample on each side of an idle spell is two crowds, not one. Counted
 * as one, two ranks taking turns with others (the bench) found the machine "crowded for" 30 ms
 * after every pause, and their pollers slept for contention that was not there.
 */
const MAX_SAMPLE_GAP_MS = 2 * SAMPLE_MS;

/**
 * Whether more threads want to run on this machine than it has cores, from the kernel's count of
 * runnable threads (the fourth field of /proc/loadavg, "running/total"), read at most every
 * SAMPLE_MS. A poller that yields the core on every idle look pays a system call each time; it
 * needs to only while the core is wanted. Unreadable (not Linux, a sandbox): always crowded, so
 * the poller keeps yielding on every look, as it would without this.
 */
export class RunQueue {
  readonly #cores: number;
  readonly #buffer = Buffer.alloc(128);
  #fd: number | undefined;
  #nextSample = 0;
  #lastSample = -Infinity;
  #crowded = true;
  /** When the samples began to find the machine crowded, every one since (-Infinity: always, unreadable). */
  #crowdedSince = -Infinity;

  constructor(cores = availableParallelism(), loadavg = '/proc/loadavg') {
    this.#cores = cores;
    try {
      this.#fd = openSync(loadavg, 'r');
      this.#crowded = false;
      this.#crowdedSince = 0;
    } catch {
      this.#fd = undefined;
    }
  }

  /**
   * True when the last sample (at most SAMPLE_MS old at `now`, or taken now if `fresh`) counted
   * more runnable threads than cores.
   */
  crowded(now: number, fresh = false): boolean {
    if ((now < this.#nextSample && !fresh) || this.#fd === undefined) return this.#crowded;
    this.#nextSample = now + SAMPLE_MS;
    const running = this.#sample();
    const crowded = running === undefined || running > this.#cores;
    const streakBroken = !this.#crowded || now - this.#lastSample > MAX_SAMPLE_GAP_MS;
    if (crowded && streakBroken && this.#crowdedSince !== -Infinity) this.#crowdedSince = now;
    this.#lastSample = now;
    this.#crowded = crowded;
    return crowded;
  }

  /**
   * For how long (ms, at `now`, sampled afresh) every sample, none more than MAX_SAMPLE_GAP_MS
   * after the one before, has found the machine crowded; 0 when it is not. A burst of the
   * process's own helper threads (the garbage collector's) crowds it for a few milliseconds;
   * more processes than cores, for as long as they run.
   */
  crowdedFor(now: number): number {
    return this.crowded(now, true) ? now - this.#crowdedSince : 0;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #sample(): number | undefined {
    try {
      const n = readSync(this.#fd!, this.#buffer, 0, this.#buffer.length, 0);
      const match = /^\S+ \S+ \S+ (\d+)\//.exec(this.#buffer.toString('latin1', 0, n));
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}
