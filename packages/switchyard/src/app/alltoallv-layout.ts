import { MpiError } from './errors.js';
import { ctorOf, deliverParts, type NumericArray, type NumericArrayConstructor } from './typed.js';

/**
 * MPI_Alltoallv's layout, in elements. Without displacements the parts lie one after the other
 * (in `data`: `sendCounts` must then cover it exactly; in the result: in rank order).
 */
export interface AlltoallvLayout {
  /** Elements for each destination rank. */
  readonly sendCounts: readonly number[];
  /** Where each destination's part starts in `data` (MPI's sdispls); parts may leave gaps or overlap. */
  readonly sdispls?: readonly number[];
  /** Elements expected from each rank (MPI's recvcounts): needed with `rdispls`, checked when given. */
  readonly recvCounts?: readonly number[];
  /** Where each source's part goes in the result (MPI's rdispls); elements no part covers are left as they were. */
  readonly rdispls?: readonly number[];
}

/** `counts` (or displacements) as `size` integers ≥ 0, or an ERR_COUNT naming `what`. */
export function checkCounts(counts: readonly number[] | undefined, size: number, what: string): asserts counts is readonly number[] {
  if (!Array.isArray(counts) || counts.length !== size || !counts.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new MpiError('ERR_COUNT', `${what} must be ${size} element counts (integers ≥ 0), one per rank`);
  }
}

/** The part for each destination, as views of `data`. */
export function sendParts<T extends NumericArray>(data: T, layout: AlltoallvLayout, size: number): T[] {
  const { sendCounts, sdispls } = layout;
  checkCounts(sendCounts, size, 'alltoallv: sendCounts');
  if (sdispls === undefined) {
    const total = sendCounts.reduce((n, c) => n + c, 0);
    if (total !== data.length) {
      throw new MpiError('ERR_COUNT', `alltoallv: sendCounts add up to ${total}, the array has ${data.length} elements (or pass sdispls)`);
    }
    let at = 0;
    return sendCounts.map((c) => data.subarray(at, (at += c)) as T);
  }
  checkCounts(sdispls, size, 'alltoallv: sdispls');
  return sendCounts.map((c, r) => {
    const start = sdispls[r]!;
    if (start + c > data.length) {
      throw new MpiError('ERR_COUNT', `alltoallv: the part for rank ${r} (${c} elements at ${start}) ends past the array (${data.length})`);
    }
    return data.subarray(start, start + c) as T;
  });
}

/** Checks the receive side of the layout before anything is sent. */
export function checkRecvLayout(layout: AlltoallvLayout, size: number, into: NumericArray | undefined): void {
  const { recvCounts, rdispls } = layout;
  if (recvCounts !== undefined) checkCounts(recvCounts, size, 'alltoallv: recvCounts');
  if (rdispls === undefined) return;
  checkCounts(rdispls, size, 'alltoallv: rdispls');
  if (!recvCounts) throw new MpiError('ERR_COUNT', 'alltoallv: rdispls needs recvCounts (how many elements go at each displacement)');
  const end = Math.max(0, ...rdispls.map((d, r) => d + recvCounts[r]!));
  if (into && end > into.length) {
    throw new MpiError('ERR_BUFFER', `alltoallv: rdispls and recvCounts reach element ${end}, into has ${into.length}`);
  }
}

/** The received parts (bytes, by source rank) placed as the layout says, in `into` or a new array. */
export function placeParts<T extends NumericArray>(
  ctor: NumericArrayConstructor<T>,
  parts: readonly Uint8Array[],
  layout: AlltoallvLayout,
  into: T | undefined,
): T {
  const { recvCounts } = layout;
  const element = ctor.BYTES_PER_ELEMENT;
  parts.forEach((p, r) => {
    if (p.length % element !== 0 || (recvCounts && p.length !== recvCounts[r]! * element)) {
      const expected = recvCounts ? `${recvCounts[r]} elements (recvCounts)` : `whole ${ctor.name} elements`;
      throw new MpiError('ERR_COUNT', `alltoallv: rank ${r} sent ${p.length} bytes, expected ${expected}`);
    }
  });
  const { rdispls } = layout;
  if (!rdispls) return deliverParts(ctor, parts, into, 'alltoallv');
  const length = Math.max(0, ...parts.map((p, r) => rdispls[r]! + p.length / element));
  if (into && ctorOf(into) !== ctor) {
    throw new MpiError('ERR_BUFFER', `alltoallv: the result is ${ctor.name}, into is ${into.constructor.name}`);
  }
  const out = into ?? new ctor(length);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  parts.forEach((p, r) => bytes.set(p, rdispls[r]! * element));
  return out;
}
