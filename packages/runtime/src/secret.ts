import { timingSafeEqual } from 'node:crypto';

/** Compares a presented secret with the job's in constant time (no timing oracle on the socket). */
export function secretMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
