/**
 * The BML's link-management messages (tag BML_LINK_TAG), little-endian, first byte the type:
 *
 *   DOWN         | 1 | fatal u8 | name length u16 | generation u32 | component name (utf-8) |
 *   PROBE        | 2 | - | - | - | sent f64 |        a failed link is tried again
 *   PROBE_REPLY  | 3 | - | - | - | sent f64 |        it works both ways
 *
 * DOWN travels over another link to the peer: "your link to me over this component, made in this
 * generation, is dead". The generation (how many collective loads of the component the job had made
 * when the link was made, the same on both sides) keeps a DOWN that waited behind traffic on the
 * other link from taking down the link a later load made.
 * PROBE and its reply travel over the link being tried and carry the sender's drain count, so the
 * drain protocol restarts from there (what the fault lost is never owed).
 */
export const enum LinkMessage {
  DOWN = 1,
  PROBE = 2,
  PROBE_REPLY = 3,
}

const PROBE_SIZE = 12;

const DOWN_HEADER = 8;

export function writeDown(component: string, fatal: boolean, generation: number): Uint8Array {
  const name = Buffer.from(component, 'utf8');
  const b = new Uint8Array(DOWN_HEADER + name.length);
  b[0] = LinkMessage.DOWN;
  b[1] = fatal ? 1 : 0;
  const v = new DataView(b.buffer);
  v.setUint16(2, name.length, true);
  v.setUint32(4, generation, true);
  b.set(name, DOWN_HEADER);
  return b;
}

export function writeProbe(type: LinkMessage.PROBE | LinkMessage.PROBE_REPLY, sent: number): Uint8Array {
  const b = new Uint8Array(PROBE_SIZE);
  b[0] = type;
  new DataView(b.buffer).setFloat64(4, sent, true);
  return b;
}

export type ParsedLinkMessage =
  | { readonly type: LinkMessage.DOWN; readonly component: string; readonly fatal: boolean; readonly generation: number }
  | { readonly type: LinkMessage.PROBE | LinkMessage.PROBE_REPLY; readonly sent: number };

/** Undefined for a malformed message. */
export function readLinkMessage(data: Uint8Array): ParsedLinkMessage | undefined {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data[0] === LinkMessage.DOWN && data.length >= DOWN_HEADER) {
    const length = v.getUint16(2, true);
    if (data.length !== DOWN_HEADER + length) return undefined;
    const component = Buffer.from(data.subarray(DOWN_HEADER)).toString('utf8');
    return { type: LinkMessage.DOWN, fatal: data[1] === 1, generation: v.getUint32(4, true), component };
  }
  if ((data[0] === LinkMessage.PROBE || data[0] === LinkMessage.PROBE_REPLY) && data.length === PROBE_SIZE) {
    return { type: data[0], sent: v.getFloat64(4, true) };
  }
  return undefined;
}
