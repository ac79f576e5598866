import { performance } from 'node:perf_hooks';

/**
 * Fair progress. A send to a module with room, or a receive whose message is already here,
 * completes at once, so an application looping on `await req.wait()` can run on microtasks
 * alone and never let the event loop turn: its sockets go unread, its peers stall behind it
 * and its control agent cannot answer. `wait()` therefore lets the loop turn (a macrotask, so
 * I/O is polled and timers run) whenever it has not turned for `intervalMs`
 * (`pml_yield_interval`). Nothing is charged while the loop turns by itself.
 */
let intervalMs = 2;
let lastTurn = performance.now();
let watching = false;

const noteTurn = (): void => {
  watching = false;
  lastTurn = performance.now();
};

/** Sets the longest time the runtime keeps the event loop from turning (0: yield on every wait). */
export function setYieldInterval(ms: number): void {
  intervalMs = ms;
}

/** Has the event loop gone `intervalMs` without turning? Also starts watching for its next turn. */
export function loopStarved(): boolean {
  if (!watching) {
    watching = true;
    setImmediate(noteTurn);
  }
  return performance.now() - lastTurn >= intervalMs;
}

/** Resolves on the event loop's next turn, after it has polled for I/O. */
export function afterLoopTurn<T>(value: T): Promise<T> {
  return new Promise((resolve) =>
    setImmediate(() => {
      lastTurn = performance.now();
      resolve(value);
    }),
  );
}
