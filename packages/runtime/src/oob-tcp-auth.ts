import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Authentication of the OOB channel over TCP (a rank's controller under mpirun or srun), where,
 * unlike the launcher's private Unix socket, anyone on the network can connect and listen. The
 * secret never crosses the wire: challenge-response with HMAC, both ways, as btl-tcp's handshake.
 *
 *   controller → { type: 'challenge', nonce: N }
 *   client     → { type: 'hello', role, rank?, pid, nonce: M, mac: HMAC(secret, hello|role|rank|N|M) }
 *   controller → { type: 'welcome', jobId, size, mac: HMAC(secret, welcome|jobId|M|N) }  or a reject
 *
 * The fresh nonce N makes a recorded hello useless on another connection; the welcome's proof
 * tells the client it reached its own job, not whatever process now owns a stale port.
 */
const TCP_SCHEME = 'tcp://';
const NONCE_PATTERN = /^[0-9a-f]{64}$/;

export function isTcpUri(uri: string): boolean {
  return uri.startsWith(TCP_SCHEME);
}

export function formatTcpUri(host: string, port: number): string {
  return `${TCP_SCHEME}${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** `tcp://HOST:PORT` or `HOST:PORT` (IPv6 in brackets) -> host and port; throws on anything else. */
export function parseTcpAddress(text: string): { host: string; port: number } {
  const rest = isTcpUri(text) ? text.slice(TCP_SCHEME.length) : text;
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(rest);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`'${text}' is not HOST:PORT (e.g. 10.0.0.1:4000, [fd00::1]:4000)`);
  return { host: (match[1] ?? match[2])!, port };
}

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export function isNonce(value: unknown): value is string {
  return typeof value === 'string' && NONCE_PATTERN.test(value);
}

export function helloMac(secret: string, role: string, rank: number | undefined, serverNonce: string, clientNonce: string): string {
  return createHmac('sha256', secret).update(`hello|${role}|${rank ?? ''}|${serverNonce}|${clientNonce}`).digest('hex');
}

export function welcomeMac(secret: string, jobId: string, clientNonce: string, serverNonce: string): string {
  return createHmac('sha256', secret).update(`welcome|${jobId}|${clientNonce}|${serverNonce}`).digest('hex');
}

/** Constant-time comparison of an expected hex MAC with whatever the peer sent. */
export function macMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string' || !NONCE_PATTERN.test(presented)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(presented, 'hex'));
}
