import { start, type Started } from './launch.js';
import { switchyardCli } from './paths.js';

/** How often the watch asks for a status: a change shows within about two periods, without a ctl process per look. */
const INTERVAL_S = 0.1;

/** One status line of `ctl status --watch --json`: when it was gathered, and the job's ranks. */
interface Reading<Rank> {
  readonly at: number;
  readonly ranks: Rank[];
}

/**
 * `switchyard ctl status --watch --json`, one process for the control job's life, as a user
 * would keep one open in another terminal: the kit's many looks at the job's traffic then cost
 * a line each, not a ctl process each (a node start-up, half a second of a 2-core machine).
 * A watch that ends (a status that failed on a loaded machine) is started again on the next look.
 */
export class StatusWatch<Rank> {
  #watch?: Started;
  #readings: Array<Reading<Rank>> = [];
  /** The watch that ended (its output is all read), if the current one did. */
  #ended?: Started;
  /** Looks waiting for the next line or the watch's end: each is woken, however many look at once. */
  readonly #waiting = new Set<() => void>();

  constructor(
    readonly jobId: string,
    /** How long one look may take before the kit gives up on it (a ctl call's limit). */
    readonly lookMs: number,
    /** The job's own limit: a watch outlives it only if the kit is gone. */
    readonly limitMs: number,
  ) {}

  /**
   * The first status gathered wholly after now: the one after a line stamped now or later,
   * since the watch asks again only once it wrote a line. `text` says what ctl said when none came.
   */
  async fresh(): Promise<{ ranks: Rank[]; text: string }> {
    const since = Date.now();
    const watch = this.#running();
    const deadline = setTimeout(() => watch.kill(), this.lookMs);
    try {
      for (;;) {
        const i = this.#readings.findIndex((r) => r.at >= since);
        if (i >= 0 && i + 1 < this.#readings.length) return { ranks: this.#readings[i + 1]!.ranks, text: '' };
        if (this.#ended === watch) {
          const { stdout, stderr } = watch.output();
          return { ranks: [], text: `${stderr}${stdout}`.trim() || `ctl status --watch ended after ${Date.now() - since} ms` };
        }
        await new Promise<void>((resolve) => this.#waiting.add(resolve));
      }
    } finally {
      clearTimeout(deadline);
      // Older readings are never asked for again.
      this.#readings = this.#readings.slice(-1);
    }
  }

  close(): void {
    this.#watch?.kill();
  }

  #running(): Started {
    const current = this.#watch;
    if (current && current.child.exitCode === null && current.child.signalCode === null) return current;
    this.#readings = [];
    const args = ['ctl', '--job', this.jobId, 'status', '--watch', '--interval', String(INTERVAL_S), '--json'];
    const watch = start(switchyardCli(), args, { timeoutMs: this.limitMs });
    let partial = '';
    watch.child.stdout!.on('data', (chunk) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.#read(line);
    });
    void watch.exited.then(() => {
      this.#ended = watch;
      this.#wake();
    });
    this.#watch = watch;
    return watch;
  }

  #wake(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const resolve of waiting) resolve();
  }

  #read(line: string): void {
    let parsed: { at?: string; ranks?: Rank[] };
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    const at = Date.parse(parsed.at ?? '');
    if (!Number.isFinite(at)) return;
    this.#readings.push({ at, ranks: parsed.ranks ?? [] });
    this.#wake();
  }
}
