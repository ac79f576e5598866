import { MpiError, shown } from './mpi-error.js';
import { afterLoopTurn, loopStarved } from './progress-gate.js';

/**
 * What a completed receive gives the application. `data` is the receive's own buffer when it
 * gave one (the app API types it like that buffer); otherwise a Uint8Array that may share its
 * `buffer` with other messages: read it through `data`, never through `data.buffer`.
 */
export interface Message<T extends ArrayBufferView = Uint8Array> {
  readonly data: T;
  readonly source: number;
  readonly tag: number;
}

/** What a probe reports: a matchable message not yet received. */
export interface ProbeResult {
  readonly source: number;
  readonly tag: number;
  readonly size: number;
}

/** What `wait()` rejects with after `cancel()` withdrew the request (MPI_Cancel). */
export class RequestCancelledError extends MpiError {
  declare readonly code: 'ERR_REQUEST_CANCELLED';
  constructor() {
    super('ERR_REQUEST_CANCELLED', 'the request was cancelled (MPI_Cancel)');
    this.name = 'RequestCancelledError';
  }
}

/** A non-blocking operation (MPI_Request): `wait()` resolves when it completes. */
export class Request<T = unknown> {
  #done = false;
  #value?: T;
  #error?: Error;
  /** Made on the first `wait()`: a request nobody waits on costs no promise. */
  #promise?: Promise<T>;
  /** Typed loosely so that T stays covariant (a request for a Uint8Array message is one for any view). */
  #resolve?: (value: unknown) => void;
  #reject?: (error: Error) => void;
  /** @internal The PML's bookkeeping, run once when the request completes or fails. */
  onSettled: (() => void) | undefined;
  /** @internal Withdraws the operation if it has not started (a posted receive); true if it did. */
  onCancel: (() => boolean) | undefined;
  /** @internal Runs when `wait()` finds the request not complete yet and the loop not starved: a busy-polling PML polls for it there. */
  beforeWait: ((req: Request<unknown>) => void) | undefined;
  /** @internal Runs when `test()` finds the request not complete yet: the PML polls once (MPI_Test is a progress point). */
  beforeTest: (() => void) | undefined;
  /**
   * @internal Reported complete by `waitAny`, `waitSome`, `testAny` (or a whole list by `waitAll`,
   * `testAll`): in those it counts as MPI_REQUEST_NULL from then on, as MPI sets the handle so.
   */
  reported = false;

  /**
   * A request that settles with `promise` (a non-blocking collective, a receive whose result
   * is converted); `cancel` is what `cancel()` forwards to.
   */
  static from<T>(promise: Promise<T>, cancel?: () => boolean): Request<T> {
    const req = new Request<T>();
    // Cancelled at once, like the request it stands for, not a turn of the loop later.
    if (cancel) req.onCancel = () => cancel() && (req.fail(new RequestCancelledError()), true);
    promise.then(
      (value) => req.complete(value),
      (error: unknown) => req.fail(error instanceof Error ? error : new Error(String(error))),
    );
    return req;
  }

  /**
   * A request for `inner`'s result converted by `convert` (a receive delivered as a typed array,
   * an object, with a communicator's ranks). It completes in the same turn as `inner`, and its
   * `test()` polls for `inner` as `inner.test()` does: a loop of `test()` that never awaits sees
   * it complete, as it sees `inner` (MPI_Test is a progress point). `convert` throwing fails it.
   */
  static map<T, U>(inner: Request<T>, convert: (value: T) => U): Request<U> {
    const outer = new Request<U>();
    const settle = (): boolean => {
      if (outer.#done) return true;
      if (!inner.#done) return false;
      if (inner.#error) {
        outer.fail(inner.#error);
        return true;
      }
      let value: U;
      try {
        value = convert(inner.#value as T);
      } catch (error) {
        outer.fail(error instanceof Error ? error : new Error(String(error)));
        return true;
      }
      outer.complete(value);
      return true;
    };
    outer.onCancel = () => inner.cancel() && settle();
    outer.beforeTest = () => {
      if (!inner.#done) inner.beforeTest?.();
      settle();
    };
    inner.wait().then(settle, settle);
    return outer;
  }

  get completed(): boolean {
    return this.#done;
  }

  /** True once the request failed, or was cancelled. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** True once `cancel()` withdrew the request (MPI_Test_cancelled). */
  get cancelled(): boolean {
    return this.#error instanceof RequestCancelledError;
  }

  /**
   * MPI_Test: true once the request is complete, for sends and receives alike (its result is
   * then `wait()`'s, at once); throws the error of a failed request. A cancelled request is
   * complete (MPI_Test's flag), and `cancelled` says so.
   */
  test(): boolean {
    if (!this.#done) this.beforeTest?.();
    if (this.#error && !this.cancelled) throw this.#error;
    return this.#done;
  }

  /**
   * MPI_Cancel: withdraws a receive that no message has matched yet; `wait()` then rejects with
   * a `RequestCancelledError` (code `ERR_REQUEST_CANCELLED`). Answers false, changing nothing,
   * when it is too late or the request cannot be cancelled (sends, collectives).
   */
  cancel(): boolean {
    if (this.#done || !this.onCancel) return false;
    return this.onCancel();
  }

  wait(): Promise<T> {
    // Asked once at most: a request not complete asks only to poll for it (busy polling).
    let starved: boolean | undefined;
    if (!this.#done && this.beforeWait && !(starved = loopStarved())) this.beforeWait(this);
    // Complete already: hand the result over after a turn of the loop if it has not turned for a while.
    if (this.#done && !this.#error && (starved ?? loopStarved())) return afterLoopTurn(this.#value as T);
    if (this.#promise) return this.#promise;
    if (this.#error) {
      this.#promise = Promise.reject(this.#error);
      // A request nobody handles must not crash the process with an unhandled rejection.
      this.#promise.catch(ignore);
    } else if (this.#done) {
      // A send's (no value): one settled promise serves them all.
      this.#promise = this.#value === undefined ? (SETTLED as Promise<T>) : Promise.resolve(this.#value as T);
    } else {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#resolve = resolve as (value: unknown) => void;
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

/**
 * A cancelled request is complete for the list calls, as MPI_Waitall and MPI_Waitany complete it
 * (its status says cancelled; here `req.cancelled`), and as `test()` and `testAll` count it: its
 * value is undefined. Only `wait()` on the request itself rejects.
 */
function cancelledAsUndefined(error: unknown): undefined {
  if (error instanceof RequestCancelledError) return undefined;
  throw error;
}

const SETTLED = Promise.resolve(undefined);

/**
 * A list entry for MPI_REQUEST_NULL: `null` or `undefined`, or a request an earlier `waitAny`,
 * `waitSome`, `testAny`, `waitAll` or `testAll` reported complete (MPI sets its handle to
 * MPI_REQUEST_NULL). The list functions skip such entries.
 */
export type RequestEntry<T> = Request<T> | null | undefined;

/** The index MPI_Waitany / MPI_Testany report when every entry is MPI_REQUEST_NULL (MPI_UNDEFINED). */
export const UNDEFINED_INDEX = -1;

const active = <T>(r: RequestEntry<T>): r is Request<T> => r != null && !r.reported;

/**
 * Waits for every request (MPI_Waitall). A null entry gives `undefined`, as does a cancelled one. When some fail it still
 * waits for all, as MPI_Waitall does, and then rejects with the first failure in list order:
 * every request counts as MPI_REQUEST_NULL after, failed or not, and a failure reported before
 * (by `waitAny` or the like) is not reported again.
 */
export async function waitAll<T>(requests: readonly Request<T>[]): Promise<T[]>;
export async function waitAll<T>(requests: readonly RequestEntry<T>[]): Promise<(T | undefined)[]>;
export async function waitAll<T>(requests: readonly RequestEntry<T>[]): Promise<(T | undefined)[]> {
  const bad = badRequestList(requests, 'waitAll');
  if (bad) throw bad;
  const outcomes = await Promise.allSettled(
    requests.map((r) => (r == null || (r.reported && r.failed) ? undefined : r.wait().catch(cancelledAsUndefined))),
  );
  for (const r of requests) if (r) r.reported = true;
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<T | undefined>).value);
}

/**
 * Waits for the first active request to complete (MPI_Waitany): its index and result; the request
 * then counts as MPI_REQUEST_NULL in later calls, so N calls over N requests give N indices.
 * A cancelled request completes with `value` undefined (`req.cancelled` says so).
 * An empty list, or every entry null already: index -1 (MPI_UNDEFINED), at once, and `value`
 * undefined (a list that may hold null entries types it so; over a list of requests, check `index`
 * when it may be empty or all may be done).
 */
export async function waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }>;
export async function waitAny<T>(requests: readonly RequestEntry<T>[]): Promise<{ index: number; value: T | undefined }>;
export async function waitAny<T>(requests: readonly RequestEntry<T>[]): Promise<{ index: number; value: T | undefined }> {
  const bad = badRequestList(requests, 'waitAny');
  if (bad) throw bad;
  // No active request (none at all, as MPI_Waitany with count 0): MPI_UNDEFINED, as testAny says too.
  if (!requests.some(active)) return { index: UNDEFINED_INDEX, value: undefined };
  const done = requests.findIndex((r) => active(r) && r.completed);
  // A failure settles the race too, as an outcome: the request it came from is reported with it.
  const outcome = (index: number) => (promise: Promise<T>) =>
    promise.then(
      (value) => ({ index, value, error: undefined }),
      (error: unknown) => ({ index, value: undefined, error: error instanceof RequestCancelledError ? undefined : error }),
    );
  const first =
    done >= 0
      ? await outcome(done)(requests[done]!.wait())
      : await Promise.race(requests.flatMap((r, index) => (active(r) ? [outcome(index)(r.wait())] : [])));
  requests[first.index]!.reported = true;
  if (first.error !== undefined) throw first.error;
  return { index: first.index, value: first.value };
}

/**
 * Waits until at least one active request completes (MPI_Waitsome): the indices of every active
 * request complete by then, in order, each then MPI_REQUEST_NULL; an empty list when there is
 * none (no requests, or all null). A failed one rejects, as in `waitAny`.
 */
export async function waitSome<T>(requests: readonly RequestEntry<T>[]): Promise<number[]> {
  const bad = badRequestList(requests, 'waitSome');
  if (bad) throw bad;
  if (!requests.some(active)) return [];
  if (!requests.some((r) => active(r) && r.completed)) {
    // Until one settles, failed or not: testSome reports a failure with its request.
    await Promise.race(requests.flatMap((r) => (active(r) ? [r.wait().then(ignore, ignore)] : [])));
  }
  return testSome(requests);
}

/**
 * MPI_Testsome: the indices of every active request complete now, in order, each then
 * MPI_REQUEST_NULL; `[]` when none is (yet), or none is active. Each active request is tested (a
 * progress point). Throws a failed one's error.
 */
export function testSome<T>(requests: readonly RequestEntry<T>[]): number[] {
  const bad = badRequestList(requests, 'testSome');
  if (bad) throw bad;
  const indices = requests.flatMap((r, i) => (active(r) && testReporting(r) ? [i] : []));
  for (const i of indices) requests[i]!.reported = true;
  return indices;
}

/** `r.test()`; a failed request's error is reported once: the request is MPI_REQUEST_NULL after, as MPI frees it. */
function testReporting<T>(r: Request<T>): boolean {
  try {
    return r.test();
  } catch (error) {
    r.reported = true;
    throw error;
  }
}

/**
 * MPI_Testall: true once every request is complete (each is tested: a progress point), and then
 * every one is MPI_REQUEST_NULL. Throws a failed one's error.
 */
export function testAll<T>(requests: readonly RequestEntry<T>[]): boolean {
  const bad = badRequestList(requests, 'testAll');
  if (bad) throw bad;
  let all = true;
  for (const r of requests) if (r != null && !r.test()) all = false;
  if (all) for (const r of requests) if (r) r.reported = true;
  return all;
}

/**
 * MPI_Testany: the index of a complete active request (then MPI_REQUEST_NULL), or -1 when none is
 * (yet), or every entry is null. Throws a failed one's error.
 */
export function testAny<T>(requests: readonly RequestEntry<T>[]): number {
  const bad = badRequestList(requests, 'testAny');
  if (bad) throw bad;
  const index = requests.findIndex((r) => active(r) && testReporting(r));
  if (index >= 0) requests[index]!.reported = true;
  return index;
}

/** Why `requests` is not a list of requests (an MpiError naming the first bad entry), or undefined. */
function badRequestList(requests: unknown, what: string): MpiError | undefined {
  if (!Array.isArray(requests)) return new MpiError('ERR_REQUEST', `${what} takes an array of requests, got ${shown(requests)}`);
  const i = requests.findIndex((r) => r != null && typeof (r as Request<unknown>).wait !== 'function');
  if (i < 0) return undefined;
  const got = shown(requests[i]);
  return new MpiError('ERR_REQUEST', `${what}: entry ${i} is not a request (from isend, irecv or an i-collective) or null, got ${got}`);
}
