import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ControllerWorkerData, ControllerWorkerMessage } from './controller-worker.js';
import type { RankControllerOptions } from './rank-controller.js';
import { controllerRecordPath } from './controller-record.js';
import { RecordGuard } from './record-guard.js';

/**
 * The job's controller in a worker thread of the controlling rank (controller-worker.ts), with
 * the control plane `controlPlane` installs on it. Only what must be on the main thread stays
 * here: the record's guard against signals, and carrying out an abort (through PMIx).
 */
export class ControllerThread {
  readonly uris: readonly string[];
  readonly #worker: Worker;
  readonly #guard: RecordGuard;
  #closed: Promise<void> | undefined;

  private constructor(worker: Worker, uris: readonly string[], guard: RecordGuard) {
    this.#worker = worker;
    this.uris = uris;
    this.#guard = guard;
  }

  /** Whether the worker's script and the control plane are built (not when sources run under tests). */
  static available(controlPlane: URL): boolean {
    return [workerScript(), controlPlane].every((url) => url.protocol === 'file:' && existsSync(fileURLToPath(url)));
  }

  static start(options: RankControllerOptions, controlPlane: URL): Promise<ControllerThread> {
    const { abort, ...rest } = options;
    const recordPath = options.recordPath ?? controllerRecordPath(options.jobId);
    // Guarded before the worker writes it: a launcher's SIGTERM between that write and the
    // worker's 'ready' (the job's other rank failed) must take it along too.
    const guard = new RecordGuard(recordPath);
    const workerData: ControllerWorkerData = { ...rest, recordPath, controlPlane: controlPlane.href };
    const worker = new Worker(workerScript(), { workerData });
    return new Promise((resolve, reject) => {
      let thread: ControllerThread | undefined;
      const failed = (error: Error) => {
        guard.removeNow();
        reject(error);
      };
      worker.on('message', (message: ControllerWorkerMessage) => {
        if ('ready' in message) {
          thread = new ControllerThread(worker, message.ready.uris, guard);
          // Like the transports' handles, the controller must not keep a rank whose script is
          // done from finalizing at exit; its messages still arrive while the loop runs.
          worker.unref();
          resolve(thread);
        } else if ('failed' in message) failed(new Error(message.failed));
        else if ('abort' in message) abort(message.abort.message, message.abort.code);
      });
      worker.on('error', (err) =>
        thread ? process.stderr.write(`switchyard controller (job ${options.jobId}): ${err.message}\n`) : failed(err),
      );
      worker.on('exit', () => {
        if (!thread) failed(new Error('the controller thread ended before it listened'));
      });
    });
  }

  /** Removes the job record now (the job is being aborted, and this rank may be SIGKILLed). */
  dropRecord(): void {
    this.#guard.removeNow();
  }

  /** Stops listening and removes the record; idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#guard.release();
      // Until it has ended: finalize waits for it.
      this.#worker.ref();
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage({ close: true });
      // A worker that does not end by itself (it should) is ended.
      setTimeout(() => void this.#worker.terminate(), 5000).unref();
    });
    return this.#closed;
  }
}

function workerScript(): URL {
  return new URL('./controller-worker.js', import.meta.url);
}
