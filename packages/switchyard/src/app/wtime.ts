import { performance } from 'node:perf_hooks';

/**
 * MPI_Wtime: seconds as a float, with sub-microsecond resolution. Counted from the Unix epoch
 * (the process's time origin plus a monotonic clock), so ranks on one host read the same clock.
 */
export function Wtime(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

/** MPI_Wtick: the resolution of `Wtime`, in seconds. */
export function Wtick(): number {
  return 1e-6;
}
