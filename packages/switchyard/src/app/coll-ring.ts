import { shift, type Channel } from './channel.js';
import { combine, itemLength, partSizeFrom, type ReduceOp } from './ops.js';
import { bytesOf as bytes, copyOf, ctorOf, type NumericArray } from './typed.js';

// Rings move p - 1 blocks per rank whatever p is: bandwidth-optimal for large messages, where a
// tree would send the whole array log2 p times.

/** Every rank gets every rank's block, in rank order (received into `slots[r]` for rank r when given). */
export async function allgatherRing(ch: Channel, block: Uint8Array, slots?: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const { rank, size } = ch;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const blocks: Uint8Array[] = new Array(size);
  blocks[rank] = block;
  const sends: Promise<void>[] = [];
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank - step + size) % size;
    const receiving = (sending - 1 + size) % size;
    blocks[receiving] = await shift(ch, blocks[sending]!, right, left, sends, slots?.[receiving]);
  }
  await Promise.all(sends);
  return blocks;
}

/**
 * A part of a reduction from `left`, received into `into`: of another size than `into` (too
 * large: the receive's truncation), the left rank's array has another length or type.
 */
async function partFrom(received: Promise<Uint8Array>, into: Uint8Array, left: number): Promise<void> {
  let got: Uint8Array;
  try {
    got = await received;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_TRUNCATE') throw partSizeFrom(left, into.length);
    throw err;
  }
  if (got.length !== into.length) throw partSizeFrom(left, into.length, got.length);
}

/**
 * Ring allreduce: a reduce-scatter round leaves each rank one chunk combined from every rank,
 * an allgather round hands the chunks round. Each chunk is combined once, at one rank, so every
 * rank ends with the same bits even for floating point. Needs an item (a pair for maxloc) per rank. Combines in
 * place: `acc` is this rank's contribution, and the result.
 */
export async function allreduceRing<T extends NumericArray>(ch: Channel, acc: T, op: ReduceOp): Promise<T> {
  const { rank, size } = ch;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const ctor = ctorOf(acc);
  // Chunks end on whole items: a (value, index) pair of maxloc cut in two would be combined apart.
  const unit = itemLength(op);
  const items = acc.length / unit;
  const base = Math.floor(items / size) * unit;
  const extra = items % size;
  const start = (c: number) => c * base + Math.min(c, extra) * unit;
  const chunk = (c: number) => acc.subarray(start(c), start(c + 1)) as T;
  // Chunks arrive straight into place: a scratch array to combine from, then their slot in acc.
  // Within a round no chunk changes after this rank sent it (each is combined or received,
  // then sent), so a round awaits its sends once; the allgather round receives into chunks the
  // reduce-scatter round sent, so those must have gone first.
  const scratch = new ctor(base + (extra ? unit : 0));
  const sends: Promise<void>[] = [];
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank - step + size) % size;
    const receiving = chunk((sending - 1 + size) % size);
    const incoming = scratch.subarray(0, receiving.length) as T;
    await partFrom(shift(ch, bytes(chunk(sending)), right, left, sends, bytes(incoming)), bytes(incoming), left);
    combine(op, receiving, incoming);
  }
  await Promise.all(sends.splice(0));
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank + 1 - step + size) % size;
    const into = bytes(chunk((sending - 1 + size) % size));
    await partFrom(shift(ch, bytes(chunk(sending)), right, left, sends, into), into, left);
  }
  await Promise.all(sends);
  return acc;
}

/**
 * Ring reduce-scatter (MPI_Reduce_scatter for large data): p - 1 steps, each rank sends one part
 * and folds in the one from its left, so every rank sends about the data once whatever p is
 * (a tree to one root and a scatter would send it log2 p times and funnel it through the root).
 * Part c is `counts[c]` elements; rank r ends with part r combined from every rank.
 */
export async function reduceScatterRing<T extends NumericArray>(ch: Channel, data: T, counts: readonly number[], op: ReduceOp): Promise<T> {
  const { rank, size } = ch;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const ctor = ctorOf(data);
  const acc = copyOf(data);
  const starts = [0];
  for (const c of counts) starts.push(starts[starts.length - 1]! + c);
  const part = (c: number) => acc.subarray(starts[c]!, starts[c + 1]!) as T;
  // Step s sends part rank - s - 1: the last step's incoming part is the rank's own.
  const scratch = new ctor(Math.max(0, ...counts));
  const sends: Promise<void>[] = [];
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank - step - 1 + 2 * size) % size;
    const receiving = part((sending - 1 + size) % size);
    const incoming = scratch.subarray(0, receiving.length) as T;
    await partFrom(shift(ch, bytes(part(sending)), right, left, sends, bytes(incoming)), bytes(incoming), left);
    combine(op, receiving, incoming);
  }
  await Promise.all(sends);
  return copyOf(part(rank));
}
