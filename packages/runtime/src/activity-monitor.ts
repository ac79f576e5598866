import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BEAT_MS, SNAPSHOT_MS } from './activity-timing.js';
import type { ActivityWorkerData } from './activity-worker.js';

export interface ActivityMonitorOptions {
  /** The launcher (HNP socket or `tcp://` controller) the rank's own channel goes to. */
  readonly uri: string;
  readonly jobId: string;
  readonly rank: number;
  readonly secret: string;
}

/**
 * Lets the launcher see a rank whose main thread runs application code that does not yield for
 * seconds: a worker thread (activity-worker.ts), on a second connection, reports it busy and
 * alive. The main thread's part is cheap and off the data path: a timer stamps a shared
 * timestamp every BEAT_MS, and another posts the published snapshot when it changed.
 * Neither timer nor the worker keeps the process alive.
 */
export class ActivityMonitor {
  readonly #worker: Worker;
  readonly #beat: BigInt64Array;
  readonly #beatTimer: NodeJS.Timeout;
  #snapshotTimer: NodeJS.Timeout | undefined;
  #lastSnapshot = '';
  #stopped = false;

  private constructor(worker: Worker, beat: BigInt64Array) {
    this.#worker = worker;
    this.#beat = beat;
    this.#beatTimer = setInterval(() => this.#stamp(), BEAT_MS).unref();
    worker.unref();
    // The monitor is an aid: if its thread fails, the rank goes on without it.
    worker.on('error', () => this.stop());
  }

  /** Starts the monitor, or returns undefined where its worker script is not built (sources run by tests). */
  static start(options: ActivityMonitorOptions): ActivityMonitor | undefined {
    const script = new URL('./activity-worker.js', import.meta.url);
    if (script.protocol !== 'file:' || !existsSync(fileURLToPath(script))) return undefined;
    const beat = new BigInt64Array(new SharedArrayBuffer(8));
    Atomics.store(beat, 0, BigInt(Date.now()));
    const workerData: ActivityWorkerData = { ...options, beat };
    return new ActivityMonitor(new Worker(script, { workerData, stdout: false, stderr: false }), beat);
  }

  /**
   * What the launcher answers for this rank while it is busy: `provider()` is called on the main
   * thread every SNAPSHOT_MS (only when the loop turns, so never during the busy spell).
   */
  publish(provider: () => unknown): void {
    clearInterval(this.#snapshotTimer);
    const refresh = () => {
      if (this.#stopped) return;
      let text: string;
      try {
        text = JSON.stringify(provider());
      } catch {
        return;
      }
      if (text === this.#lastSnapshot) return;
      this.#lastSnapshot = text;
      // Parsed on the worker's side: the main thread only pays for the stringify.
      this.#worker.postMessage({ snapshot: text });
    };
    refresh();
    this.#snapshotTimer = setInterval(refresh, SNAPSHOT_MS).unref();
  }

  /** Ends the worker and its connection; idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#beatTimer);
    clearInterval(this.#snapshotTimer);
    this.#worker.postMessage({ stop: true });
    // A worker that does not end by itself (it should) is ended.
    setTimeout(() => void this.#worker.terminate(), 1000).unref();
  }

  #stamp(): void {
    Atomics.store(this.#beat, 0, BigInt(Date.now()));
  }
}
