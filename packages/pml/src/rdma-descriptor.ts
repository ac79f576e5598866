import type { BtlRegistration } from '@switchyard/core-bml';
import type { RdmaSource } from './arrival.js';

/**
 * An RGET's descriptor on the wire: the component whose get reads the payload and the
 * registration's handle, as JSON (a handle is whatever its BTL made it). Both ends keep the
 * last one they made or read: a sender that sends the same buffer again reuses its
 * registration (the cache), so its descriptor is the same bytes, and JSON on both sides cost a
 * 1 MiB shared-memory rendezvous about a twentieth of its time.
 */
const descriptors = new WeakMap<BtlRegistration, Buffer>();

/** The descriptor of a registration made by `component`'s module, made once per registration. */
export function descriptorOf(component: string, registration: BtlRegistration): Buffer {
  let bytes = descriptors.get(registration);
  if (!bytes) {
    bytes = Buffer.from(JSON.stringify({ c: component, h: registration.handle }));
    descriptors.set(registration, bytes);
  }
  return bytes;
}

const UNKNOWN: RdmaSource = Object.freeze({ component: '', handle: undefined });

/** Parses descriptors, remembering the last one of each sender (the same bytes always parse the same). */
export class RdmaSourceReader {
  readonly #last = new Map<number, { bytes: Buffer; source: RdmaSource }>();

  /** A malformed descriptor names no component, so the receiver falls back to fragments. */
  read(rank: number, bytes: Uint8Array): RdmaSource {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const last = this.#last.get(rank);
    if (last && last.bytes.equals(view)) return last.source;
    const source = parse(view);
    if (source !== UNKNOWN) this.#last.set(rank, { bytes: Buffer.from(view), source });
    return source;
  }
}

function parse(view: Buffer): RdmaSource {
  try {
    const parsed = JSON.parse(view.toString('utf8')) as { c?: unknown; h?: unknown };
    return typeof parsed.c === 'string' ? { component: parsed.c, handle: parsed.h } : UNKNOWN;
  } catch {
    return UNKNOWN;
  }
}
