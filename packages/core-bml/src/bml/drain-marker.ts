/**
 * The drain protocol's markers (tag BML_MARKER_TAG), sent on the link being drained, little-endian:
 *
 *   REQUEST  | 1 | - - - | number u32 | - f64 |     "I stopped sending here: tell me when you have"
 *   QUIET    | 2 | - - - | number u32 | sent f64 |  its answer: every fragment I sent here, in all
 *   REMOVAL  | 3 | - - - | epoch u32  | sent f64 |  "I am removing this link; I sent this many here"
 *
 * A change of traffic policy drains the links this rank stopped using. Under faults the two sides
 * of a link need not stop using it in the same verb (a fault already moved one side's traffic), so
 * such a drain asks: the peer answers once its side carries none of its traffic, at once if it
 * already does not. Requests are numbered by the asker alone, so an answer to an earlier drain
 * never ends a later one.
 *
 * Removing a module (unload, finalize) removes both sides of each link in the same verb, and
 * neither side may forget the link before the other has told it everything it sent: each sends
 * a REMOVAL marker and waits for the peer's of the same epoch. Only removals count epochs, so
 * the two sides stay in step however often policy drains ran on one side only. A side whose link
 * failed still sends its REMOVAL marker, counting NOTHING_OWED: what it sent there before the fault
 * is the PML's to send again over the others, so the peer must wait for none of it.
 */
export const enum MarkerType {
  REQUEST = 1,
  QUIET = 2,
  REMOVAL = 3,
}

export const MARKER_SIZE = 16;

/** The count of a REMOVAL marker sent on a failed link: the peer waits for no fragment of it. */
export const NOTHING_OWED = 0;

export function writeMarker(type: MarkerType, number: number, sent = 0): Uint8Array {
  const b = new Uint8Array(MARKER_SIZE);
  b[0] = type;
  const v = new DataView(b.buffer);
  v.setUint32(4, number, true);
  v.setFloat64(8, sent, true);
  return b;
}

export interface Marker {
  readonly type: MarkerType;
  /** The request's number (REQUEST, QUIET) or the removal's epoch (REMOVAL). */
  readonly number: number;
  readonly sent: number;
}

/** Undefined for a malformed marker. */
export function readMarker(data: Uint8Array): Marker | undefined {
  const type = data[0];
  if (data.length !== MARKER_SIZE || (type !== MarkerType.REQUEST && type !== MarkerType.QUIET && type !== MarkerType.REMOVAL)) {
    return undefined;
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { type, number: v.getUint32(4, true), sent: v.getFloat64(8, true) };
}
