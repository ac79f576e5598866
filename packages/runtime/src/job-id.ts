import { randomBytes, randomInt } from 'node:crypto';

/**
 * A short, unique, path-safe job id: the start time in base 36 (so ids sort by age) and four
 * random base-36 digits (so two jobs started in the same millisecond differ).
 */
export function newJobId(now = Date.now()): string {
  return `${now.toString(36)}${randomInt(36 ** 4).toString(36).padStart(4, '0')}`;
}

/** The per-job secret: 32 random bytes as hex. Ranks and tools prove they belong with it. */
export function newJobSecret(): string {
  return randomBytes(32).toString('hex');
}
