import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';

/**
 * What a uds module publishes in the modex. A Unix socket is reachable only from the same
 * kernel, so the card says which one: the host name and, on Linux, the boot id (two containers
 * or VMs may share a host name; they never share a boot id).
 */
export interface UdsCard {
  readonly hostname: string;
  readonly bootId: string;
  /** The listening socket's path. */
  readonly path: string;
  /** Lets a peer configured with a smaller max_send_size still take our fragments. */
  readonly maxSendSize: number;
}

/** `sun_path` holds 108 bytes on Linux, the terminating NUL included. */
export const SUN_PATH_MAX = 107;

/** This kernel's boot id, or '' where there is none to read (then the host name alone decides). */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Checks a card read from the modex: it comes from another process and names a file to connect to. */
export function parseCard(value: unknown): { card: UdsCard } | { problem: string } {
  if (value === null || typeof value !== 'object') return { problem: 'it published no uds business card' };
  const v = value as Record<string, unknown>;
  if (typeof v.hostname !== 'string' || typeof v.bootId !== 'string') return { problem: 'its uds business card has no host identity' };
  if (typeof v.path !== 'string' || !isAbsolute(v.path) || Buffer.byteLength(v.path) > SUN_PATH_MAX) {
    return { problem: `its uds business card has no usable socket path (${JSON.stringify(v.path)})` };
  }
  if (typeof v.maxSendSize !== 'number' || !Number.isSafeInteger(v.maxSendSize) || v.maxSendSize < 1) {
    return { problem: `its uds business card has an invalid maxSendSize ${JSON.stringify(v.maxSendSize)}` };
  }
  return { card: { hostname: v.hostname, bootId: v.bootId, path: v.path, maxSendSize: v.maxSendSize } };
}

/** Why a peer with `theirs` cannot be reached from `mine`, or undefined when it can. */
export function unreachableReason(mine: UdsCard, theirs: UdsCard, local: boolean): string | undefined {
  const same = local && mine.hostname === theirs.hostname && mine.bootId === theirs.bootId;
  if (same) return undefined;
  const describe = (c: UdsCard) => `${c.hostname}${c.bootId ? ` (boot ${c.bootId.slice(0, 8)})` : ''}`;
  return `it runs on another host, ${describe(theirs)}, and this is ${describe(mine)}: Unix domain sockets reach processes of one host ` +
    `only`;
}
