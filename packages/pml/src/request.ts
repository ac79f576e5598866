import { afterLoopTurn, loopStarved } from './progress-gate.js';

/** What a completed receive gives the application. */
export interface Message {
  readonly data: Uint8Array;
  readonly source: number;
  readonly tag: number;
}

/** What a probe reports: a matchable message not yet received. */
export interface ProbeResult {
  readonly source: number;
  readonly tag: number;
  readonly size: number;
}

/** A non-blocking operation (MPI_Request): `wait()` resolves when it completes. */
export class Request<T> {
  #done = false;
  #value?: T;
  #error?: Error;
  /** Made on the first `wait()`: a request nobody waits on costs no promise. */
  #promise?: Promise<T>;
  #resolve?: (value: T) => void;
  #reject?: (error: Error) => void;
  /** @internal The PML's bookkeeping, run once when the request completes or fails. */
  onSettled: (() => void) | undefined;

  get completed(): boolean {
    return this.#done;
  }

  /** MPI_Test: the result if complete, else undefined (throws the error of a failed request). */
  test(): T | undefined {
    if (this.#error) throw this.#error;
    return this.#value;
  }

  wait(): Promise<T> {
    // Complete already: hand the result over after a turn of the loop if it has not turned for a while.
    if (this.#done && !this.#error && loopStarved()) return afterLoopTurn(this.#value as T);
    if (this.#promise) return this.#promise;
    if (this.#error) {
      this.#promise = Promise.reject(this.#error);
      // A request nobody handles must not crash the process with an unhandled rejection.
      this.#promise.catch(ignore);
    } else if (this.#done) {
      this.#promise = Promise.resolve(this.#value as T);
    } else {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
    return this.#promise;
  }

  complete(value: T): void {
    if (this.#done) return;
    this.#done = true;
    this.#value = value;
    this.#resolve?.(value);
    this.onSettled?.();
  }

  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (this.#promise) {
      this.#promise.catch(ignore);
      this.#reject!(error);
    }
    this.onSettled?.();
  }
}

function ignore(): void {}

/** Waits for every request (MPI_Waitall); rejects with the first failure. */
export function waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
  return Promise.all(requests.map((r) => r.wait()));
}

/** Waits for the first request to complete (MPI_Waitany): its index and result. */
export function waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }> {
  if (!requests.length) return Promise.reject(new Error('waitAny needs at least one request'));
  return Promise.race(requests.map((r, index) => r.wait().then((value) => ({ index, value }))));
}
