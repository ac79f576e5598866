import { readlinkSync } from 'node:fs';

/**
 * What an sm module publishes in the modex: where its segment and doorbell are (descriptors in
 * its process, copied with pidfd_getfd), and the PID namespace the pid means something in.
 */
export interface SmCard {
  readonly hostname: string;
  readonly pid: number;
  readonly pidNamespace: string;
  readonly segmentFd: number;
  readonly segmentSize: number;
  readonly doorbellFd: number;
  readonly fifoSize: number;
  readonly maxSendSize: number;
}

export function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return 'unknown';
  }
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks a card read from the modex: it comes from another process and names its memory. */
export function parseCard(value: unknown): { card: SmCard } | { problem: string } {
  if (value === null || typeof value !== 'object') return { problem: 'no sm business card' };
  const v = value as Record<string, unknown>;
  if (typeof v.hostname !== 'string' || typeof v.pidNamespace !== 'string') {
    return { problem: 'business card without hostname or pidNamespace' };
  }
  for (const key of ['pid', 'segmentFd', 'segmentSize', 'doorbellFd', 'fifoSize', 'maxSendSize'] as const) {
    if (!count(v[key])) return { problem: `business card with an invalid ${key} ${JSON.stringify(v[key])}` };
  }
  return { card: v as unknown as SmCard };
}
