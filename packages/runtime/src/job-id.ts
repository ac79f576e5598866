import { randomBytes, randomInt } from 'node:crypto';

/**
 * A short, unique, path-safe job id: the start time in base 36 (so ids sort by age) and six
 * random base-36 digits, so jobs started in the same millisecond differ (with four, 200 ids made
 * in one millisecond shared one about once in a hundred tries).
 */
export function newJobId(now = Date.now()): string {
  return `${now.toString(36)}${randomInt(36 ** 6).toString(36).padStart(6, '0')}`;
}

/** The per-job secret: 32 random bytes as hex. Ranks and tools prove they belong with it. */
export function newJobSecret(): string {
  return randomBytes(32).toString('hex');
}
