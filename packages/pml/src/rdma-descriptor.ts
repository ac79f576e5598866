import type { BtlRegistration } from '@switchyard/core-bml';
import type { RdmaSource } from './arrival.js';

/**
 * An RDMA descriptor on the wire (an RGET's, a PUT request's): the component whose get or put
 * reaches the memory and the registration's handle, as JSON (a handle is whatever its BTL made
 * it). For RGETs both ends keep the last one they made or read: a sender that sends the same
 * buffer again reuses its registration (the cache), so its descriptor is the same bytes, and
 * JSON on both sides cost a 1 MiB shared-memory rendezvous about a twentieth of its time. A PUT
 * request names a registration made for that message alone: it is encoded and parsed plainly.
 */
const descriptors = new WeakMap<BtlRegistration, Buffer>();

export function encodeDescriptor(component: string, registration: BtlRegistration): Buffer {
  return Buffer.from(JSON.stringify({ c: component, h: registration.handle }));
}

/** The descriptor of a cached registration made by `component`'s module, made once per registration. */
export function descriptorOf(component: string, registration: BtlRegistration): Buffer {
  let bytes = descriptors.get(registration);
  if (!bytes) {
    bytes = encodeDescriptor(component, registration);
    descriptors.set(registration, bytes);
  }
  return bytes;
}

const UNKNOWN: RdmaSource = Object.freeze({ component: '', handle: undefined });

/** Parses descriptors, remembering the last one of each sender (the same bytes always parse the same). */
export class RdmaSourceReader {
  readonly #last = new Map<number, { bytes: Buffer; source: RdmaSource }>();

  read(rank: number, bytes: Uint8Array): RdmaSource {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const last = this.#last.get(rank);
    if (last && last.bytes.equals(view)) return last.source;
    const source = parseDescriptor(view);
    if (source !== UNKNOWN) this.#last.set(rank, { bytes: Buffer.from(view), source });
    return source;
  }
}

/** A malformed descriptor names no component: the get or put is not done, and fragments go instead. */
export function parseDescriptor(bytes: Uint8Array): RdmaSource {
  try {
    const parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) as { c?: unknown; h?: unknown };
    return typeof parsed.c === 'string' ? { component: parsed.c, handle: parsed.h } : UNKNOWN;
  } catch {
    return UNKNOWN;
  }
}
