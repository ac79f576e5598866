import { exchange, type Channel } from './channel.js';
import { checkCounts, checkRecvLayout, placeParts, sendParts, type AlltoallvLayout } from './alltoallv-layout.js';
import { allgatherBruck, allreduceDoubling } from './coll-doubling.js';
import { alltoallLinear, alltoallPairwise, gatherLinear, scatterLinear } from './coll-linear.js';
import { allgatherRing, allreduceRing, reduceScatterRing } from './coll-ring.js';
import { scanDoubling } from './coll-scan.js';
import { bcastTyped } from './coll-bcast.js';
import { gatherTree, reduceTree, scatterTree } from './coll-tree.js';
import { shown } from '@switchyard/pml';
import { MpiError } from './errors.js';
import { asLogical, checkOpFor, itemLength, type ReduceOp } from './ops.js';
import {
  bytesOf,
  checkArray,
  checkInto,
  collectivesMismatch,
  copyOf,
  ctorOf,
  decodeTyped,
  deliver,
  deliverParts,
  encodeTyped,
  fromBytes,
  isNumericArray,
  type NumericArray,
  type NumericArrayConstructor,
} from './typed.js';

/**
 * Above this many bytes in all, allreduce and allgather go round a ring instead of a tree, and
 * gather sends straight to the root (Open MPI's tuned component switches near 64 KiB too).
 */
export const LARGE_MESSAGE = 64 * 1024;

/** Up to this many bytes per block, alltoall posts every message at once instead of pairwise steps. */
export const SMALL_BLOCK = 8 * 1024;

/** Scatter / alltoall input: one typed array split in equal parts, or one array per rank. */
export type Blocks<T extends NumericArray> = T | readonly T[];

const kindPrefixed = (array: NumericArray): Uint8Array => Buffer.concat(encodeTyped(array));

/** A communicator's rank and size, as a collective checks its arguments against them. */
export interface Shape {
  readonly rank: number;
  readonly size: number;
}

/** `into`, when given, fits a result of `like`'s type and `length` elements: checked before anything is sent. */
function expectInto(into: NumericArray | undefined, like: NumericArray, length: number, what: string): void {
  if (into !== undefined) checkInto(into, ctorOf(like), length, what);
}

/**
 * The typed-array collectives of a communicator, over its point-to-point messages. Every call
 * opens a channel of its own (see {@link Channel}); all ranks call them in the same order, as MPI
 * requires, and each algorithm is chosen from sizes every rank knows, so all ranks pick the same.
 * No state outlives a call: a transport switched mid-collective only moves its messages, which
 * the PML delivers once and in order.
 */
export class Collectives {
  /**
   * `shape` is the communicator's rank and size (it throws when the communicator is freed): a
   * call checks its arguments against it before `open` takes the call's tag, so a call that
   * fails its checks on one rank sends nothing and leaves that rank's next call in step.
   */
  constructor(
    private readonly open: () => Channel,
    private readonly shape: () => Shape,
  ) {}

  /** Dissemination barrier: ⌈log2 p⌉ rounds of empty messages. */
  async barrier(): Promise<void> {
    const ch = this.open();
    const { rank, size } = ch;
    for (let step = 1; step < size; step <<= 1) {
      const source = (rank - step + size) % size;
      const got = await exchange(ch, new Uint8Array(0), (rank + step) % size, source);
      // Another collective's message (a barrier's are empty): said, not taken as this barrier's.
      if (got.length) throw collectivesMismatch(`barrier: a message of ${got.length} bytes arrived from rank ${source}`);
    }
  }

  async bcast<T extends NumericArray>(data: T | undefined, root: number, into?: T): Promise<T> {
    const at = this.#checkRoot(root);
    if (at.rank === root) {
      checkArray(data, 'bcast at the root');
      if (into !== data) expectInto(into, data, data.length, 'bcast');
    }
    return bcastTyped(this.open(), data, root, into, LARGE_MESSAGE);
  }

  async reduce<T extends NumericArray>(data: T, op: ReduceOp, root: number, into?: T): Promise<T | undefined> {
    const at = this.#checkRoot(root);
    this.#checkReduce(data, op, 'reduce');
    if (at.rank === root) expectInto(into, data, data.length, 'reduce');
    const out = await reduceTree(this.open(), data, op, root);
    return out && deliver(asLogical(op, out), into, 'reduce');
  }

  async allreduce<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T> {
    this.#checkReduce(data, op, 'allreduce');
    expectInto(into, data, data.length, 'allreduce');
    const ch = this.open();
    if (data.byteLength >= LARGE_MESSAGE && data.length / itemLength(op) >= ch.size) {
      // Reduced straight in the caller's array when one was given.
      return asLogical(op, await allreduceRing(ch, into ? deliver(data, into, 'allreduce') : copyOf(data), op));
    }
    return deliver(asLogical(op, await allreduceDoubling(ch, data, op)), into, 'allreduce');
  }

  /** The root gets every rank's array (all of one length) one after the other, in rank order. */
  async gather<T extends NumericArray>(data: T, root: number, into?: T): Promise<T | undefined> {
    const at = this.#checkRoot(root);
    checkArray(data, 'gather');
    if (at.rank === root) expectInto(into, data, data.length * at.size, 'gather');
    const ch = this.open();
    const block = bytesOf(data);
    const blocks =
      block.length * ch.size <= LARGE_MESSAGE ? await gatherTree(ch, block, root) : await gatherLinear(ch, block, root);
    if (blocks) checkOneLength(blocks, block.length, ctorOf(data), 'gather');
    return blocks && deliverParts(ctorOf(data), blocks, into, 'gather');
  }

  /** gather with a length per rank: `counts` (elements, per rank) matters at the root only. */
  async gatherv<T extends NumericArray>(data: T, counts: readonly number[] | undefined, root: number, into?: T): Promise<T | undefined> {
    const at = this.#checkRoot(root);
    checkArray(data, 'gatherv');
    if (at.rank === root) this.#checkCounts(counts, 'gatherv');
    const blocks = await gatherLinear(this.open(), bytesOf(data), root);
    if (!blocks) return undefined;
    const ctor = ctorOf(data);
    blocks.forEach((b, r) => {
      if (b.length !== counts![r]! * ctor.BYTES_PER_ELEMENT) {
        throw new MpiError('ERR_COUNT', `gatherv: rank ${r} sent ${b.length / ctor.BYTES_PER_ELEMENT} elements, counts says ${counts![r]}`);
      }
    });
    return deliverParts(ctor, blocks, into, 'gatherv');
  }

  /** Rank r gets part r of the root's data (split in equal parts, or one array per rank). */
  async scatter<T extends NumericArray>(data: Blocks<T> | undefined, root: number, into?: T): Promise<T> {
    const at = this.#checkRoot(root);
    let blocks: Uint8Array[] | undefined;
    if (at.rank === root) {
      const parts = this.#split(data, 'scatter');
      // MPI_Scatter's single count and type: a list of uneven parts is scatterv's.
      checkSameParts(parts, ctorOf(parts[0]!), 'scatter');
      blocks = parts.map(kindPrefixed);
    }
    return deliver(decodeTyped(await scatterTree(this.open(), blocks, root)) as T, into, 'scatter');
  }

  /** scatter with a length per rank: the root's array is cut into `counts` elements after each other. */
  async scatterv<T extends NumericArray>(data: T | undefined, counts: readonly number[] | undefined, root: number, into?: T): Promise<T> {
    const at = this.#checkRoot(root);
    let blocks: Uint8Array[] | undefined;
    if (at.rank === root) {
      checkArray(data, 'scatterv at the root');
      blocks = this.#cut(data, counts, 'scatterv').map(kindPrefixed);
    }
    return deliver(decodeTyped(await scatterLinear(this.open(), blocks, root)) as T, into, 'scatterv');
  }

  /** Every rank gets every rank's array (all of one length) one after the other. */
  async allgather<T extends NumericArray>(data: T, into?: T): Promise<T> {
    checkArray(data, 'allgather');
    expectInto(into, data, data.length * this.shape().size, 'allgather');
    const ch = this.open();
    const blocks = await allgatherBytes(ch, bytesOf(data), data.byteLength * ch.size, slotsOf(into, [data], ch.size));
    checkOneLength(blocks, data.byteLength, ctorOf(data), 'allgather');
    return deliverParts(ctorOf(data), blocks, into, 'allgather');
  }

  /** allgather with a length per rank, `counts` (elements) known to every rank. */
  async allgatherv<T extends NumericArray>(data: T, counts: readonly number[], into?: T): Promise<T> {
    checkArray(data, 'allgatherv');
    const { rank } = this.#checkCounts(counts, 'allgatherv');
    if (data.length !== counts[rank]) {
      throw new MpiError('ERR_COUNT', `allgatherv: rank ${rank} passed ${data.length} elements, counts says ${counts[rank]}`);
    }
    const elements = counts.reduce((n, c) => n + c, 0);
    expectInto(into, data, elements, 'allgatherv');
    const total = elements * data.BYTES_PER_ELEMENT;
    return deliverParts(ctorOf(data), await allgatherBytes(this.open(), bytesOf(data), total), into, 'allgatherv');
  }

  /** Part r of every rank's data goes to rank r; rank r gets the parts in rank order. */
  async alltoall<T extends NumericArray>(data: Blocks<T>, into?: T): Promise<T> {
    const blocks = this.#split(data, 'alltoall');
    const ctor = ctorOf(blocks[0]!);
    checkSameParts(blocks, ctor, 'alltoall');
    expectInto(into, blocks[0]!, blocks[0]!.length * blocks.length, 'alltoall');
    const ch = this.open();
    const slots = slotsOf(into, blocks, ch.size);
    const parts = await alltoallBytes(ch, blocks.map((b) => bytesOf(b)), slots);
    checkOneLength(parts, blocks[0]!.byteLength, ctor, 'alltoall');
    return deliverParts(ctor, parts, into, 'alltoall');
  }

  /**
   * alltoall with a length per destination (MPI_Alltoallv): `sendCounts[r]` elements to rank r,
   * one part after the other, or a layout with MPI's displacements (`sdispls`, `rdispls`).
   */
  async alltoallv<T extends NumericArray>(data: T, layout: readonly number[] | AlltoallvLayout, into?: T): Promise<T> {
    checkArray(data, 'alltoallv');
    const full: AlltoallvLayout = Array.isArray(layout) ? { sendCounts: layout as readonly number[] } : (layout as AlltoallvLayout);
    if (typeof full !== 'object' || full === null) throw new MpiError('ERR_COUNT', 'alltoallv: pass sendCounts or a layout object');
    const { size } = this.shape();
    const parts = sendParts(data, full, size);
    checkRecvLayout(full, size, into);
    return placeParts(ctorOf(data), await alltoallBytes(this.open(), parts.map((b) => bytesOf(b))), full, into);
  }

  /** MPI_Scan: rank r gets data(0) op … op data(r). */
  async scan<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T> {
    this.#checkReduce(data, op, 'scan');
    expectInto(into, data, data.length, 'scan');
    return deliver(asLogical(op, (await scanDoubling(this.open(), data, op)).inclusive), into, 'scan');
  }

  /** MPI_Exscan: rank r gets data(0) op … op data(r - 1); rank 0 gets undefined. */
  async exscan<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T | undefined> {
    this.#checkReduce(data, op, 'exscan');
    // Rank 0 gets nothing, so nothing of its `into` is used.
    if (this.shape().rank > 0) expectInto(into, data, data.length, 'exscan');
    const { exclusive } = await scanDoubling(this.open(), data, op);
    return exclusive && deliver(asLogical(op, exclusive), into, 'exscan');
  }

  /** MPI_Reduce_scatter: the element-wise reduction, cut into `counts` parts; rank r gets part r. */
  async reduceScatter<T extends NumericArray>(data: T, counts: readonly number[], op: ReduceOp, into?: T): Promise<T> {
    this.#checkReduce(data, op, 'reduceScatter');
    const { rank } = this.#checkCounts(counts, 'reduceScatter');
    const total = counts.reduce((n, c) => n + c, 0);
    if (total !== data.length) {
      throw new MpiError('ERR_COUNT', `reduceScatter: counts add up to ${total}, data has ${data.length} elements`);
    }
    expectInto(into, data, counts[rank]!, 'reduceScatter');
    const ch = this.open();
    if (data.byteLength >= LARGE_MESSAGE) {
      return deliver(asLogical(op, await reduceScatterRing(ch, data, counts, op)), into, 'reduceScatter');
    }
    const reduced = await reduceTree(ch, data, op, 0);
    if (reduced) asLogical(op, reduced);
    const blocks = reduced && this.#cut(reduced, counts, 'reduceScatter').map((b) => bytesOf(b));
    return deliver(fromBytes(ctorOf(data), await scatterTree(ch, blocks, 0)), into, 'reduceScatter');
  }

  #checkReduce(data: NumericArray, op: ReduceOp, what: string): void {
    checkArray(data, what);
    checkOpFor(op, data);
  }

  #checkRoot(root: number): Shape {
    const at = this.shape();
    if (!Number.isInteger(root) || root < 0 || root >= at.size) {
      throw new MpiError('ERR_ROOT', `root must be a rank from 0 to ${at.size - 1}, got ${shown(root)}`);
    }
    return at;
  }

  #checkCounts(counts: readonly number[] | undefined, what: string): Shape & { counts: readonly number[] } {
    const at = this.shape();
    checkCounts(counts, at.size, `${what}: counts`);
    return { ...at, counts: counts! };
  }

  /** An array cut into `counts` parts (views), which must cover it exactly. */
  #cut<T extends NumericArray>(data: T, given: readonly number[] | undefined, what: string): T[] {
    const { counts } = this.#checkCounts(given, what);
    const total = counts.reduce((n, c) => n + c, 0);
    if (total !== data.length) throw new MpiError('ERR_COUNT', `${what}: counts add up to ${total}, the array has ${data.length} elements`);
    let at = 0;
    return counts.map((c) => data.subarray(at, (at += c)) as T);
  }

  #split<T extends NumericArray>(data: Blocks<T> | undefined, what: string): T[] {
    const { size } = this.shape();
    if (Array.isArray(data)) {
      const arrays = data as readonly T[];
      if (arrays.length !== size) throw new MpiError('ERR_COUNT', `${what}: pass one array per rank (${size}), got ${arrays.length}`);
      arrays.forEach((a) => checkArray(a, what));
      return [...arrays];
    }
    checkArray(data, what);
    const array = data as T;
    if (array.length % size !== 0) {
      throw new MpiError('ERR_COUNT', `${what}: ${array.length} elements do not split into ${size} equal parts`);
    }
    const part = array.length / size;
    return Array.from({ length: size }, (_, r) => array.subarray(r * part, (r + 1) * part) as T);
  }
}

/**
 * Every rank's block at every rank: Bruck's ⌈log2 p⌉ rounds while `total` bytes are few, a
 * ring beyond (each rank sends p - 1 blocks, not the whole set log2 p times).
 */
export async function allgatherBytes(ch: Channel, block: Uint8Array, total: number, slots?: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return total > LARGE_MESSAGE ? allgatherRing(ch, block, slots) : allgatherBruck(ch, block);
}

/** Small blocks all at once (one round), larger ones pairwise (one peer at a time). Each rank picks for itself. */
function alltoallBytes(ch: Channel, blocks: readonly Uint8Array[], slots?: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return blocks.every((b) => b.length <= SMALL_BLOCK) ? alltoallLinear(ch, blocks) : alltoallPairwise(ch, blocks, slots);
}

/**
 * Where each rank's block goes in `into` (blocks as long as `sources[0]`), to receive it in
 * place; undefined when there is no `into`, it does not fit, or it shares memory with what is
 * sent (the result is then copied and checked against it as usual).
 */
function slotsOf(into: NumericArray | undefined, sources: readonly NumericArray[], size: number): Uint8Array[] | undefined {
  const ctor = ctorOf(sources[0]!);
  const length = sources[0]!.length;
  if (!into || !isNumericArray(into) || ctorOf(into) !== ctor || into.length !== length * size) return undefined;
  if (sources.some((s) => s.buffer === into.buffer)) return undefined;
  const bytes = bytesOf(into);
  const block = length * ctor.BYTES_PER_ELEMENT;
  return Array.from({ length: size }, (_, r) => bytes.subarray(r * block, (r + 1) * block));
}

/**
 * One part per rank, all of one type and length (MPI_Alltoall's single count), checked here
 * before anything is sent: every rank passing the same uneven list then fails alike, where the
 * receivers would otherwise blame the senders and rank 0's own part would go through.
 */
function checkSameParts(parts: readonly NumericArray[], ctor: NumericArrayConstructor, what: string): void {
  const odd = parts.findIndex((p) => p.constructor !== ctor || p.length !== parts[0]!.length);
  if (odd < 0) return;
  const got = parts[odd]!;
  if (got.constructor !== ctor) {
    const gotName = (got.constructor as NumericArrayConstructor).name;
    throw new MpiError('ERR_TYPE', `${what}: part ${odd} is a ${gotName}, part 0 a ${ctor.name} (one type for all)`);
  }
  const lengths = `part ${odd} has ${got.length} elements, part 0 ${parts[0]!.length}`;
  throw new MpiError('ERR_COUNT', `${what}: ${lengths} (one length for all; ${what}v takes a length per rank)`);
}

/** Every rank passed as many elements as this one (gather, allgather, alltoall: one length for all). */
function checkOneLength(blocks: readonly Uint8Array[], bytes: number, ctor: NumericArrayConstructor, what: string): void {
  const r = blocks.findIndex((b) => b.length !== bytes);
  if (r < 0) return;
  // The other rank's type is not known here: its bytes, and this rank's elements.
  throw new MpiError(
    'ERR_COUNT',
    `${what}: rank ${r} passed ${blocks[r]!.length} bytes, this rank ${bytes} (${bytes / ctor.BYTES_PER_ELEMENT} ${ctor.name} elements; ` +
      `one length for all; ${what}v takes a length per rank)`,
  );
}
