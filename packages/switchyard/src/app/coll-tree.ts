import type { Channel } from './channel.js';
import { packBlocks, unpackBlocks } from './channel.js';
import { checkPartFrom, combine, type ReduceOp } from './ops.js';
import { copyOf, ctorOf, fromBytes, type NumericArray } from './typed.js';

// Binomial trees rooted anywhere: ranks are renumbered relative to the root, and a rank's
// children are relative + 1, + 2, + 4, … below its lowest set bit (MPI's usual tree, log2 p deep).

const relativeOf = (ch: Channel, root: number): number => (ch.rank - root + ch.size) % ch.size;
const absolute = (ch: Channel, relative: number, root: number): number => (relative + root) % ch.size;

/** Every rank gets the root's bytes (received into `fill` when given: it must have room). */
export async function bcastTree(ch: Channel, data: Uint8Array | undefined, root: number, fill?: Uint8Array): Promise<Uint8Array> {
  const relative = relativeOf(ch, root);
  let mask = 1;
  let message = data;
  if (relative === 0) {
    while (mask < ch.size) mask <<= 1;
  } else {
    while (!(relative & mask)) mask <<= 1;
    message = await ch.recv(absolute(ch, relative - mask, root), fill);
  }
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (relative + mask < ch.size) sends.push(ch.send(message!, absolute(ch, relative + mask, root)));
  }
  await Promise.all(sends);
  return message!;
}

/** The root gets every rank's array combined (others undefined); `data` is not changed. */
export async function reduceTree<T extends NumericArray>(ch: Channel, data: T, op: ReduceOp, root: number): Promise<T | undefined> {
  const relative = relativeOf(ch, root);
  const ctor = ctorOf(data);
  const acc = copyOf(data);
  for (let mask = 1; mask < ch.size; mask <<= 1) {
    if (relative & mask) {
      await ch.send(new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength), absolute(ch, relative & ~mask, root));
      return undefined;
    }
    const child = relative | mask;
    if (child >= ch.size) continue;
    const from = absolute(ch, child, root);
    const part = fromBytes(ctor, await ch.recv(from));
    checkPartFrom(from, part, acc);
    combine(op, acc, part);
  }
  return acc;
}

/** The root gets every rank's block, in rank order; others undefined. */
export async function gatherTree(ch: Channel, block: Uint8Array, root: number): Promise<Uint8Array[] | undefined> {
  const relative = relativeOf(ch, root);
  // Blocks of relative ranks relative, relative + 1, …: each child adds the next run of its subtree.
  let blocks = [block];
  for (let mask = 1; mask < ch.size; mask <<= 1) {
    if (relative & mask) {
      await ch.send(packBlocks(blocks), absolute(ch, relative & ~mask, root));
      return undefined;
    }
    const child = relative | mask;
    if (child < ch.size) blocks = blocks.concat(unpackBlocks(await ch.recv(absolute(ch, child, root))));
  }
  return blocks.map((_, r) => blocks[(r - root + ch.size) % ch.size]!);
}

/** Rank r gets the root's `blocks[r]`. */
export async function scatterTree(ch: Channel, blocks: readonly Uint8Array[] | undefined, root: number): Promise<Uint8Array> {
  const relative = relativeOf(ch, root);
  let mask = 1;
  // The blocks of this rank's subtree, in relative order from itself.
  let mine: Uint8Array[];
  if (relative === 0) {
    mine = blocks!.map((_, r) => blocks![absolute(ch, r, root)]!);
    while (mask < ch.size) mask <<= 1;
  } else {
    while (!(relative & mask)) mask <<= 1;
    mine = unpackBlocks(await ch.recv(absolute(ch, relative - mask, root)));
  }
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (relative + mask < ch.size) sends.push(ch.send(packBlocks(mine.slice(mask, 2 * mask)), absolute(ch, relative + mask, root)));
  }
  await Promise.all(sends);
  return mine[0]!;
}
