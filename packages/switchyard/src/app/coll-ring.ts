import { exchange, type Channel } from './channel.js';
import { combine, type ReduceOp } from './ops.js';
import { copyOf, ctorOf, fromBytes, type NumericArray } from './typed.js';

// Rings move p - 1 blocks per rank whatever p is: bandwidth-optimal for large messages, where a
// tree would send the whole array log2 p times.

/** Every rank gets every rank's block, in rank order. */
export async function allgatherRing(ch: Channel, block: Uint8Array): Promise<Uint8Array[]> {
  const { rank, size } = ch;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const blocks: Uint8Array[] = new Array(size);
  blocks[rank] = block;
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank - step + size) % size;
    blocks[(sending - 1 + size) % size] = await exchange(ch, blocks[sending]!, right, left);
  }
  return blocks;
}

/**
 * Ring allreduce: a reduce-scatter round leaves each rank one chunk combined from every rank,
 * an allgather round hands the chunks round. Each chunk is combined once, at one rank, so every
 * rank ends with the same bits even for floating point. Needs length ≥ size.
 */
export async function allreduceRing<T extends NumericArray>(ch: Channel, data: T, op: ReduceOp): Promise<T> {
  const { rank, size } = ch;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const ctor = ctorOf(data);
  const acc = copyOf(data);
  const base = Math.floor(acc.length / size);
  const extra = acc.length % size;
  const start = (c: number) => c * base + Math.min(c, extra);
  const chunk = (c: number) => acc.subarray(start(c), start(c + 1)) as T;
  const bytes = (a: NumericArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank - step + size) % size;
    const receiving = (sending - 1 + size) % size;
    const got = await exchange(ch, bytes(chunk(sending)), right, left);
    combine(op, chunk(receiving), fromBytes(ctor, got));
  }
  for (let step = 0; step < size - 1; step++) {
    const sending = (rank + 1 - step + size) % size;
    const receiving = (sending - 1 + size) % size;
    const got = await exchange(ch, bytes(chunk(sending)), right, left);
    bytes(chunk(receiving)).set(got);
  }
  return acc;
}
