import { removeControllerRecord } from './controller-record.js';

const TERMINATING_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Takes a controller's job record along when the process ends. Signals reach only the main
 * thread, so this lives there even when the controller runs in a worker thread.
 */
export class RecordGuard {
  readonly #remove: () => void;
  /**
   * mpirun and scancel end a job with SIGTERM (SIGINT from a terminal): take the record along,
   * then die of the signal as if we had not been listening, unless the app handles it itself.
   */
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#remove();
    this.release();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  constructor(recordPath: string) {
    this.#remove = () => removeControllerRecord(recordPath);
    // A rank that dies on an error still takes its record along (not on SIGKILL: then it is stale).
    // First of the exit hooks: PMIx's finalize, registered before, may block until the launcher
    // kills the process (the launcher ends a job whose other rank failed), which would leave it.
    process.prependListener('exit', this.#remove);
    for (const signal of TERMINATING_SIGNALS) process.on(signal, this.#onSignal);
  }

  /** Removes the record now and stops guarding it. */
  removeNow(): void {
    this.release();
    this.#remove();
  }

  release(): void {
    process.off('exit', this.#remove);
    for (const signal of TERMINATING_SIGNALS) process.off(signal, this.#onSignal);
  }
}
