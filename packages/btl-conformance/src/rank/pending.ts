import { timeout } from './round.js';

/** A call into the module under test that never resolved: the kit names it and how long it waited. */
export class PendingCallError extends Error {
  override readonly name = 'PendingCallError';
  readonly code = 'ERR_KIT_PENDING_CALL';
}

/** How long the kit waits for a module's call (finalize, delProcs, addProcs, flush) before it fails the rule. */
export const callLimitMs = (waitMs: number): number => Math.max(2 * waitMs, 10_000);

/** `promise`, or a PendingCallError saying "`call` has not resolved after N s". */
export async function bounded<T>(call: string, promise: Promise<T>, ms: number): Promise<T> {
  // The module may still settle it later: nobody listens then, so a late rejection must not escape.
  promise.catch(() => {});
  const wait = timeout(ms);
  try {
    const result = await Promise.race([promise.then((value) => ({ value })), wait.promise]);
    if (result === false) throw new PendingCallError(`${call} has not resolved after ${Math.round(ms / 100) / 10} s`);
    return result.value;
  } finally {
    wait.cancel();
  }
}
