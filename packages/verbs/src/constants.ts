import type { MemoryRegion, Sge } from './types.js';

/** `enum ibv_access_flags` (the values libibverbs uses, so the native addon passes them through). */
export const Access = Object.freeze({
  LOCAL_WRITE: 1,
  REMOTE_WRITE: 1 << 1,
  REMOTE_READ: 1 << 2,
  REMOTE_ATOMIC: 1 << 3,
});

/** Open MPI openib's defaults for the RC connection attributes (`btl_openib_ib_*` params). */
export const QP_DEFAULTS = Object.freeze({
  port: 1,
  pkeyIndex: 0,
  qpAccess: Access.REMOTE_WRITE | Access.REMOTE_READ,
  rqPsn: 0,
  sqPsn: 0,
  maxDestRdAtomic: 4,
  maxRdAtomic: 4,
  minRnrTimer: 12,
  timeout: 20,
  retryCnt: 7,
  rnrRetry: 7,
  maxSendSge: 1,
  maxRecvSge: 1,
});

/** PSNs are 24 bits. */
export const PSN_MASK = 0xff_ffff;

/** `enum ibv_mtu` (1..5) ⇄ bytes. */
export const MTU_BYTES = [256, 512, 1024, 2048, 4096] as const;
export function mtuToEnum(bytes: number): number {
  const i = MTU_BYTES.indexOf(bytes as (typeof MTU_BYTES)[number]);
  return i < 0 ? 0 : i + 1;
}

/** IB spec table 45: the RNR NAK timer encodings in milliseconds (index = encoded value). */
export const RNR_TIMER_MS = [
  655.36, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24, 0.32, 0.48, 0.64, 0.96, 1.28, 1.92, 2.56, 3.84, 5.12, 7.68,
  10.24, 15.36, 20.48, 30.72, 40.96, 61.44, 81.92, 122.88, 163.84, 245.76, 327.68, 491.52,
] as const;

/** Local ack timeout of an RC QP in ms: 4.096 µs · 2^timeout; Infinity for 0. */
export function ackTimeoutMs(timeout: number): number {
  return timeout === 0 ? Infinity : 4.096e-3 * 2 ** timeout;
}

/** An SGE covering `length` bytes of `mr` from `offset` (default: the whole region). */
export function sge(mr: MemoryRegion, offset = 0, length = mr.length - offset): Sge {
  return { addr: mr.addr + BigInt(offset), length, lkey: mr.lkey };
}

/** 16 bytes → `xxxx:xxxx:…` (8 groups of 4 lower-case hex digits), the form both providers use. */
export function formatGid(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

/** The inverse of {@link formatGid}; also accepts `::` shorthand. Throws on anything else. */
export function parseGid(gid: string): Uint8Array {
  let groups = gid.toLowerCase().split(':');
  const gap = groups.indexOf('');
  if (gid.includes('::')) {
    const head = gid.split('::')[0]!.split(':').filter(Boolean);
    const tail = gid.split('::')[1]!.split(':').filter(Boolean);
    groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  } else if (gap >= 0) groups = [];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) throw new TypeError(`not a GID: ${JSON.stringify(gid)}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
