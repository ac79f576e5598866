/** How often the watch looks; a look this much later than due means the loop was held, not idle. */
const LOOK_EVERY_MS = 100;
const HELD_MS = 1000;

/** A round's end by time: the full wait, or earlier once `stalled` holds; and how long the loop was held at most. */
export interface StallWatch {
  /** Resolves false after `ms`, or earlier once `stalled` holds. */
  readonly promise: Promise<false>;
  cancel(): void;
  /** The longest this rank's event loop went without turning while watched (0 when never over HELD_MS). */
  longestHoldMs(): number;
}

/**
 * Looks every LOOK_EVERY_MS for a stall. A look that comes a second or more late means code held
 * this rank's event loop (a module's callbacks running that long): libuv runs timers before it
 * reads sockets, so what peers sent meanwhile sits unread, and a stall decided on that look would
 * blame their silence for it. Such a look only notes the hold; the next one, after the sockets
 * were read, decides.
 */
export function stallWatch(ms: number, stalled: () => boolean): StallWatch {
  const end = Date.now() + ms;
  let last = Date.now();
  let longest = 0;
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<false>((resolve) => {
    timer = setInterval(() => {
      const now = Date.now();
      const held = now - last - LOOK_EVERY_MS;
      last = now;
      if (held >= HELD_MS) {
        longest = Math.max(longest, held);
        return;
      }
      if (now >= end || stalled()) resolve(false);
    }, LOOK_EVERY_MS);
  });
  return { promise, cancel: () => clearInterval(timer), longestHoldMs: () => longest };
}
