import { exchange, packBlocks, unpackBlocks, type Channel } from './channel.js';
import { checkPartFrom, combine, type ReduceOp } from './ops.js';
import { bytesOf as bytes, copyOf, ctorOf, fromBytes, type NumericArray } from './typed.js';

// Small messages: the fewest rounds. Each round costs a rank a wake-up (about one message's
// latency), so ⌈log2 p⌉ rounds of exchanges beat a tree down and back up (2 log2 p rounds).

/** `lower op upper`, in one of the two arrays: both partners of a round compute the same bits. */
function combineOrdered<T extends NumericArray>(op: ReduceOp, mine: T, other: T, otherIsLower: boolean): T {
  if (!otherIsLower) {
    combine(op, mine, other);
    return mine;
  }
  combine(op, other, mine);
  return other;
}

/**
 * Recursive doubling allreduce (MPICH's and Open MPI's for small counts). With p not a power of
 * two, the first 2·rem ranks pair up first (the even one hands its data to the odd one and sits
 * out), the remaining power of two exchange, and the odd ones hand the result back.
 * Every rank ends with the same bits: each round combines the lower half's part first.
 */
export async function allreduceDoubling<T extends NumericArray>(ch: Channel, data: T, op: ReduceOp): Promise<T> {
  const { rank, size } = ch;
  const ctor = ctorOf(data);
  let acc = copyOf(data);
  let pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const rem = size - pof2;
  let newRank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await ch.send(bytes(acc), rank + 1);
      return fromBytes(ctor, await ch.recv(rank + 1));
    }
    const lower = fromBytes(ctor, await ch.recv(rank - 1));
    checkPartFrom(rank - 1, lower, acc);
    acc = combineOrdered(op, acc, lower, true);
    newRank = rank >> 1;
  } else {
    newRank = rank - rem;
  }
  const real = (n: number) => (n < rem ? 2 * n + 1 : n + rem);
  for (let mask = 1; mask < pof2; mask <<= 1) {
    const partner = newRank ^ mask;
    const got = fromBytes(ctor, await exchange(ch, bytes(acc), real(partner), real(partner)));
    checkPartFrom(real(partner), got, acc);
    acc = combineOrdered(op, acc, got, partner < newRank);
  }
  if (rank < 2 * rem) await ch.send(bytes(acc), rank - 1);
  return acc;
}

/**
 * Bruck's allgather: ⌈log2 p⌉ rounds for any p. A rank holds the blocks of ranks rank,
 * rank + 1, … (mod p); each round it sends the first min(held, p - held) of them to rank - held
 * and appends what rank + held sent. Blocks may differ in size (allgatherv, objects).
 */
export async function allgatherBruck(ch: Channel, block: Uint8Array): Promise<Uint8Array[]> {
  const { rank, size } = ch;
  let held = [block];
  while (held.length < size) {
    const count = Math.min(held.length, size - held.length);
    const dest = (rank - held.length + size) % size;
    const source = (rank + held.length) % size;
    const got = await exchange(ch, packBlocks(held.slice(0, count)), dest, source);
    held = held.concat(unpackBlocks(got));
  }
  // held[i] is rank (rank + i)'s block.
  return Array.from({ length: size }, (_, r) => held[(r - rank + size) % size]!);
}
