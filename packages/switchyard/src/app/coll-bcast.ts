import type { Channel } from './channel.js';
import { bcastTree } from './coll-tree.js';
import { MpiError } from './errors.js';
import { bytesOf, checkArray, checkInto, ctorOf, ctorOfKind, decodeTyped, deliver, kindOf, type NumericArray } from './typed.js';

/** The first message's kind byte with this bit: the payload follows as a message of its own. */
const SEPARATE = 0x80;

/**
 * MPI_Bcast of a typed array whose type and length only the root knows. Below `large` bytes one
 * message, `[kind][bytes…]`. From `large` on a 9-byte header `[kind | SEPARATE][byte length
 * u64]` goes first, so every rank can receive the payload straight into the array it returns
 * (the caller's `into`, or a new one), with no copy of its own and nothing concatenated at the root.
 */
export async function bcastTyped<T extends NumericArray>(
  ch: Channel,
  data: T | undefined,
  root: number,
  into: T | undefined,
  large: number,
): Promise<T> {
  if (ch.rank === root) {
    checkArray(data, 'bcast at the root');
    if (into && into !== data) checkInto(into, ctorOf(data), data.length, 'bcast');
    const bytes = bytesOf(data);
    if (bytes.length < large) {
      const message = new Uint8Array(1 + bytes.length);
      message[0] = kindOf(data);
      message.set(bytes, 1);
      await bcastTree(ch, message, root);
    } else {
      const head = new Uint8Array(9);
      head[0] = kindOf(data) | SEPARATE;
      new DataView(head.buffer).setBigUint64(1, BigInt(bytes.length), true);
      await bcastTree(ch, head, root);
      await bcastTree(ch, bytes, root);
    }
    return deliver(data, into, 'bcast');
  }
  const first = await bcastTree(ch, undefined, root);
  if (!(first[0]! & SEPARATE)) return deliver(decodeTyped(first) as T, into, 'bcast');
  const ctor = ctorOfKind(first[0]! & ~SEPARATE);
  const byteLength = Number(new DataView(first.buffer, first.byteOffset, first.byteLength).getBigUint64(1, true));
  if (byteLength % ctor.BYTES_PER_ELEMENT !== 0) {
    throw new MpiError('ERR_TYPE', `bcast: ${byteLength} bytes are not a whole number of ${ctor.name} elements`);
  }
  const length = byteLength / ctor.BYTES_PER_ELEMENT;
  // A mismatched `into` still lets the payload through this rank to its subtree, then fails.
  const fits = into && ctorOf(into) === ctor && into.length === length;
  const target = (fits ? into : new ctor(length)) as T;
  await bcastTree(ch, undefined, root, bytesOf(target));
  return deliver(target, into, 'bcast');
}
