import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Connection authentication with the job's secret, both ways (as btl-tcp does):
 *
 *   acceptor  → CHALLENGE { protocol, nonce }
 *   connector → RESPONSE  { job, from, to, nonce', mac = HMAC(secret, "uds|job|from|to|nonce") }
 *   acceptor  → ACCEPT    { mac = HMAC(secret, "uds-accept|job|to|from|nonce'|nonce") }
 *
 * The socket's directory is private to the user already; the MAC also keeps out another job of
 * the same user that found a stale path, and the ACCEPT proof tells the connector it reached
 * the rank it meant before it hands over any data.
 */

export const PROTOCOL = 'switchyard-btl-uds/1';
const HEX64 = /^[0-9a-f]{64}$/;

export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
}

export interface Response {
  readonly job: string;
  readonly from: number;
  readonly to: number;
  readonly nonce: string;
  readonly mac: string;
}

export const newNonce = (): string => randomBytes(32).toString('hex');

export const responseMac = (secret: string, job: string, from: number, to: number, nonce: string): string =>
  createHmac('sha256', secret).update(`uds|${job}|${from}|${to}|${nonce}`).digest('hex');

export const acceptMac = (
  secret: string,
  job: string,
  acceptor: number,
  connector: number,
  connectorNonce: string,
  acceptorNonce: string,
): string =>
  createHmac('sha256', secret).update(`uds-accept|${job}|${acceptor}|${connector}|${connectorNonce}|${acceptorNonce}`).digest('hex');

export function macEquals(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string' || !HEX64.test(presented)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(presented, 'hex'));
}

export function decodeChallenge(payload: Uint8Array): string {
  const m = parseObject(payload, 'challenge');
  if (m.protocol !== PROTOCOL) throw new HandshakeError(`peer speaks ${JSON.stringify(m.protocol)}, expected ${PROTOCOL}`);
  if (typeof m.nonce !== 'string' || !HEX64.test(m.nonce)) throw new HandshakeError('challenge without a valid nonce');
  return m.nonce;
}

export function decodeResponse(payload: Uint8Array): Response {
  const m = parseObject(payload, 'response');
  const rank = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof m.job !== 'string' || !rank(m.from) || !rank(m.to)) throw new HandshakeError('response without a job id and ranks');
  if (typeof m.nonce !== 'string' || !HEX64.test(m.nonce) || typeof m.mac !== 'string')
    throw new HandshakeError('response without a nonce and MAC');
  return { job: m.job, from: m.from, to: m.to, nonce: m.nonce, mac: m.mac };
}

export function decodeAccept(payload: Uint8Array): string {
  const m = parseObject(payload, 'accept');
  if (typeof m.mac !== 'string') throw new HandshakeError('accept without a MAC');
  return m.mac;
}

function parseObject(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new HandshakeError(`${what} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HandshakeError(`${what} is not an object`);
  return value as Record<string, unknown>;
}
