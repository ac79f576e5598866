/**
 * At most `n` kit jobs at a time, first come first served. The kit's own tests run concurrently
 * (a rejection mostly waits: for a timeout, a stopped rank, a finalize that never resolves) but
 * each job is 2 ranks and a launcher, so more than two at once would crowd a 2-core machine.
 */
export function jobSlots(n: number): <T>(run: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (run) => {
    // A freed slot is handed straight to the next in line, so a newcomer cannot take it meanwhile.
    if (active < n) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
