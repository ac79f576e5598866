import { shift, type Channel } from './channel.js';

// Algorithms whose message count grows with p, for sizes only the root knows (the v variants)
// or where every pair has its own data anyway (alltoall).

/** The root receives every rank's block straight from it. */
export async function gatherLinear(ch: Channel, block: Uint8Array, root: number): Promise<Uint8Array[] | undefined> {
  if (ch.rank !== root) {
    await ch.send(block, root);
    return undefined;
  }
  return Promise.all(Array.from({ length: ch.size }, (_, r) => (r === root ? block : ch.recv(r))));
}

/** The root sends every rank its block. */
export async function scatterLinear(ch: Channel, blocks: readonly Uint8Array[] | undefined, root: number): Promise<Uint8Array> {
  if (ch.rank !== root) return ch.recv(root);
  await Promise.all(blocks!.map((b, r) => (r === root ? undefined : ch.send(b, r))));
  return blocks![root]!;
}

/**
 * Every receive and send posted at once: one round, for small blocks (the messages of a round
 * cost wake-ups, not bandwidth). Each pair exchanges one message, so ranks may mix this with
 * the pairwise exchange.
 */
export async function alltoallLinear(ch: Channel, blocks: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const { rank, size } = ch;
  const peers = Array.from({ length: size }, (_, i) => (rank + i) % size);
  const received = peers.map((r) => (r === rank ? Promise.resolve(blocks[rank]!) : ch.recv(r)));
  const sent = Promise.all(peers.map((r) => (r === rank ? undefined : ch.send(blocks[r]!, r))));
  const [got] = await Promise.all([Promise.all(received), sent]);
  return Array.from({ length: size }, (_, r) => got[(r - rank + size) % size]!);
}

/**
 * Pairwise exchange: in step s, send to rank + s and receive from rank - s (p - 1 steps, one
 * peer each); rank r's block is received into `slots[r]` when given.
 */
export async function alltoallPairwise(ch: Channel, blocks: readonly Uint8Array[], slots?: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const { rank, size } = ch;
  const out: Uint8Array[] = new Array(size);
  out[rank] = blocks[rank]!;
  // The caller's blocks do not change during the call: a step waits for its incoming block only.
  const sends: Promise<void>[] = [];
  for (let step = 1; step < size; step++) {
    const dest = (rank + step) % size;
    const source = (rank - step + size) % size;
    out[source] = await shift(ch, blocks[dest]!, dest, source, sends, slots?.[source]);
  }
  await Promise.all(sends);
  return out;
}
