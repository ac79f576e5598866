import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Connection authentication: challenge-response with the job's secret, both ways.
 *
 *   acceptor  → CHALLENGE { protocol, nonce }
 *   connector → RESPONSE  { job, from, to, nonce', mac = HMAC(secret, job|from|to|nonce) }
 *   acceptor  → ACCEPT    { mac = HMAC(secret, accept|job|to|from|nonce'|nonce) }  or REJECT { reason }
 *
 * The acceptor's fresh nonce makes a recorded RESPONSE useless on another connection. The
 * ACCEPT proof lets the connector know it reached a rank of its own job, not whatever process
 * now owns a stale port, before it hands over any data.
 */

export const PROTOCOL = 'switchyard-btl-tcp/1';
const NONCE_BYTES = 32;
const NONCE_PATTERN = /^[0-9a-f]{64}$/;
const MAC_PATTERN = /^[0-9a-f]{64}$/;
const MAX_JOB_ID = 256;

export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
}

export interface Challenge {
  readonly protocol: string;
  readonly nonce: string;
}

export interface Response {
  readonly job: string;
  readonly from: number;
  readonly to: number;
  readonly nonce: string;
  readonly mac: string;
}

export interface Accept {
  readonly mac: string;
}

/** `collision`: a simultaneous connect, resolved in favour of the peer's own connection. */
export type RejectReason = 'collision';

export interface Reject {
  readonly reason: RejectReason;
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

export function responseMac(secret: string, job: string, from: number, to: number, nonce: string): string {
  return createHmac('sha256', secret).update(`${job}|${from}|${to}|${nonce}`).digest('hex');
}

export function acceptMac(
  secret: string,
  job: string,
  acceptor: number,
  connector: number,
  connectorNonce: string,
  acceptorNonce: string,
): string {
  return createHmac('sha256', secret).update(`accept|${job}|${acceptor}|${connector}|${connectorNonce}|${acceptorNonce}`).digest('hex');
}

/** Constant-time comparison of two hex MACs (the presented one already shape-checked). */
export function macEquals(expected: string, presented: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(presented, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function encodeMessage(message: Challenge | Response | Accept | Reject): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

export function decodeChallenge(payload: Uint8Array): Challenge {
  const m = parseObject(payload, 'challenge');
  if (m.protocol !== PROTOCOL) throw new HandshakeError(`peer speaks ${JSON.stringify(m.protocol)}, expected ${PROTOCOL}`);
  if (typeof m.nonce !== 'string' || !NONCE_PATTERN.test(m.nonce)) throw new HandshakeError('challenge without a valid nonce');
  return { protocol: m.protocol, nonce: m.nonce };
}

export function decodeResponse(payload: Uint8Array): Response {
  const m = parseObject(payload, 'response');
  if (typeof m.job !== 'string' || m.job.length === 0 || m.job.length > MAX_JOB_ID)
    throw new HandshakeError('response without a valid job id');
  if (!isRank(m.from) || !isRank(m.to)) throw new HandshakeError('response without valid ranks');
  if (typeof m.nonce !== 'string' || !NONCE_PATTERN.test(m.nonce)) throw new HandshakeError('response without a valid nonce');
  if (typeof m.mac !== 'string' || !MAC_PATTERN.test(m.mac)) throw new HandshakeError('response without a valid MAC');
  return { job: m.job, from: m.from, to: m.to, nonce: m.nonce, mac: m.mac };
}

export function decodeAccept(payload: Uint8Array): Accept {
  const m = parseObject(payload, 'accept');
  if (typeof m.mac !== 'string' || !MAC_PATTERN.test(m.mac)) throw new HandshakeError('accept without a valid MAC');
  return { mac: m.mac };
}

export function decodeReject(payload: Uint8Array): Reject {
  const m = parseObject(payload, 'reject');
  if (m.reason !== 'collision') throw new HandshakeError(`reject with unknown reason ${JSON.stringify(m.reason)}`);
  return { reason: m.reason };
}

function isRank(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
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
