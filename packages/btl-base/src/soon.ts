const settled = Promise.resolve();

/**
 * Runs `task` as a microtask, like queueMicrotask but without the async resource Node makes for
 * each of those (an object and a bound function, about 0.5 KB): a poller that looks at its rings
 * between microtasks queues millions of them, and that garbage cost a scavenge every few hundred
 * round trips. An error `task` throws reaches the process as an unhandled rejection, which ends
 * it as an uncaught exception would.
 */
export function soon(task: () => void): void {
  void settled.then(task);
}
