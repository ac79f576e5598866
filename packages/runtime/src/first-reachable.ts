import { WireUpError } from './errors.js';

/** The first address `open` succeeds with, tried in order; the error names every failure. */
export async function firstReachable<T>(uris: readonly string[], open: (uri: string) => Promise<T>): Promise<T> {
  const failures: string[] = [];
  for (const uri of uris) {
    try {
      return await open(uri);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new WireUpError(failures.length ? failures.join('; ') : 'no address to connect to');
}
