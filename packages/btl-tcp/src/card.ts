import { isIP } from 'node:net';
import { ABSOLUTE_DATA_LIMIT } from './framing.js';
import { parseCidr, type Family } from './interfaces.js';

/** One listening address in a business card. */
export interface CardAddress {
  readonly address: string;
  readonly family: Family;
  readonly port: number;
  /** The address with its prefix length (`192.0.2.2/24`): peers match networks with it. */
  readonly cidr: string;
}

/**
 * What a tcp module publishes in the modex. `maxSendSize` lets a peer configured with a smaller
 * `max_send_size` still take our fragments instead of calling them malformed.
 */
export interface TcpCard {
  readonly hostname: string;
  readonly addresses: readonly CardAddress[];
  readonly maxSendSize: number;
}

const MAX_ADDRESSES = 256;

/** Checks a card read from the modex: it comes from another process and is used to open sockets. */
export function parseCard(value: unknown): { card: TcpCard } | { problem: string } {
  if (value === null || typeof value !== 'object') return { problem: 'no tcp business card' };
  const v = value as Record<string, unknown>;
  if (typeof v.hostname !== 'string') return { problem: 'business card without a hostname' };
  if (!Array.isArray(v.addresses) || v.addresses.length > MAX_ADDRESSES) return { problem: 'business card without an address list' };
  const maxSendSize = v.maxSendSize === undefined ? 0 : v.maxSendSize;
  if (typeof maxSendSize !== 'number' || !Number.isSafeInteger(maxSendSize) || maxSendSize < 0 || maxSendSize > ABSOLUTE_DATA_LIMIT) {
    return { problem: `business card with an invalid maxSendSize ${JSON.stringify(v.maxSendSize)}` };
  }
  const addresses: CardAddress[] = [];
  for (const a of v.addresses as unknown[]) {
    const problem = checkAddress(a);
    if (problem) return { problem: `business card address ${JSON.stringify(a)}: ${problem}` };
    const { address, family, port, cidr } = a as CardAddress;
    addresses.push({ address, family, port, cidr });
  }
  return { card: { hostname: v.hostname, addresses, maxSendSize } };
}

function checkAddress(a: unknown): string | undefined {
  if (a === null || typeof a !== 'object') return 'not an object';
  const { address, family, port, cidr } = a as Record<string, unknown>;
  if (family !== 'IPv4' && family !== 'IPv6') return 'family is not IPv4 or IPv6';
  if (typeof address !== 'string' || isIP(address) !== (family === 'IPv4' ? 4 : 6)) return 'not an IP address of its family';
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'invalid port';
  const parsed = typeof cidr === 'string' ? parseCidr(cidr) : undefined;
  if (!parsed || parsed.family !== family) return 'invalid cidr';
  return undefined;
}
