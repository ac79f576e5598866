/**
 * At most `n` kit jobs at a time, first come first served. The kit's own tests run concurrently
 * (a rejection mostly waits: for a timeout, a stopped rank, a finalize that never resolves) but
 * each job is 2 ranks and a launcher, so more than two at once would crowd a 2-core machine. A
 * run that starts more (rule wide-job's 12 ranks, rule two-jobs' two jobs) takes `weight` slots.
 */
export function jobSlots(n: number): <T>(run: () => Promise<T>, weight?: number) => Promise<T> {
  let free = n;
  const waiting: Array<{ weight: number; start: () => void }> = [];
  // Freed slots go to the runs in line, in order, so a newcomer cannot take them meanwhile.
  const serve = () => {
    while (waiting.length && waiting[0]!.weight <= free) {
      const next = waiting.shift()!;
      free -= next.weight;
      next.start();
    }
  };
  return async (run, weight = 1) => {
    const need = Math.min(Math.max(1, weight), n);
    if (!waiting.length && need <= free) free -= need;
    else await new Promise<void>((start) => waiting.push({ weight: need, start }));
    try {
      return await run();
    } finally {
      free += need;
      serve();
    }
  };
}
