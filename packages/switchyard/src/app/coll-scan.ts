import { exchange, type Channel } from './channel.js';
import { checkPartFrom, combine, type ReduceOp } from './ops.js';
import { copyOf, ctorOf, fromBytes, type NumericArray } from './typed.js';

const bytes = (a: NumericArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** `other op acc` into a new array: the lower ranks' part stays on the left, for non-commutative ops. */
function before<T extends NumericArray>(op: ReduceOp, lower: T, acc: T): T {
  const out = copyOf(lower);
  combine(op, out, acc);
  return out;
}

/**
 * Prefix reductions by recursive doubling (log2 p steps): in step k a rank sends the
 * combination of the 2^k ranks ending at itself to rank + 2^k and folds in what rank - 2^k sent.
 * Returns the inclusive prefix (MPI_Scan) and the exclusive one (MPI_Exscan; undefined at rank 0).
 */
export async function scanDoubling<T extends NumericArray>(
  ch: Channel,
  data: T,
  op: ReduceOp,
): Promise<{ inclusive: T; exclusive: T | undefined }> {
  const { rank, size } = ch;
  const ctor = ctorOf(data);
  let partial = copyOf(data);
  let exclusive: T | undefined;
  for (let mask = 1; mask < size; mask <<= 1) {
    const dest = rank + mask;
    const source = rank - mask;
    const outgoing = bytes(partial);
    let got: Uint8Array | undefined;
    if (dest < size && source >= 0) got = await exchange(ch, outgoing, dest, source);
    else if (dest < size) await ch.send(outgoing, dest);
    else if (source >= 0) got = await ch.recv(source);
    if (!got) continue;
    const lower = fromBytes(ctor, got);
    checkPartFrom(source, lower, partial);
    exclusive = exclusive ? before(op, lower, exclusive) : lower;
    partial = before(op, lower, partial);
  }
  return { inclusive: partial, exclusive };
}
