/**
 * The BML's link-management messages (tag BML_LINK_TAG), little-endian, first byte the type:
 *
 *   DOWN         | 1 | fatal u8 | name length u16 | component name (utf-8) |
 *   PROBE        | 2 | - | - | - | sent f64 |        a failed link is tried again
 *   PROBE_REPLY  | 3 | - | - | - | sent f64 |        it works both ways
 *
 * DOWN travels over another link to the peer: "your links to me over this component are dead".
 * PROBE and its reply travel over the link being tried and carry the sender's drain count, so the
 * drain protocol restarts from there (what the fault lost is never owed).
 */
export const enum LinkMessage {
  DOWN = 1,
  PROBE = 2,
  PROBE_REPLY = 3,
}

const PROBE_SIZE = 12;

export function writeDown(component: string, fatal: boolean): Uint8Array {
  const name = Buffer.from(component, 'utf8');
  const b = new Uint8Array(4 + name.length);
  b[0] = LinkMessage.DOWN;
  b[1] = fatal ? 1 : 0;
  new DataView(b.buffer).setUint16(2, name.length, true);
  b.set(name, 4);
  return b;
}

export function writeProbe(type: LinkMessage.PROBE | LinkMessage.PROBE_REPLY, sent: number): Uint8Array {
  const b = new Uint8Array(PROBE_SIZE);
  b[0] = type;
  new DataView(b.buffer).setFloat64(4, sent, true);
  return b;
}

export type ParsedLinkMessage =
  | { readonly type: LinkMessage.DOWN; readonly component: string; readonly fatal: boolean }
  | { readonly type: LinkMessage.PROBE | LinkMessage.PROBE_REPLY; readonly sent: number };

/** Undefined for a malformed message. */
export function readLinkMessage(data: Uint8Array): ParsedLinkMessage | undefined {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data[0] === LinkMessage.DOWN && data.length >= 4) {
    const length = v.getUint16(2, true);
    if (data.length !== 4 + length) return undefined;
    return { type: LinkMessage.DOWN, fatal: data[1] === 1, component: Buffer.from(data.subarray(4)).toString('utf8') };
  }
  if ((data[0] === LinkMessage.PROBE || data[0] === LinkMessage.PROBE_REPLY) && data.length === PROBE_SIZE) {
    return { type: data[0], sent: v.getFloat64(4, true) };
  }
  return undefined;
}
