import { CTX_COLLECTIVE, type Pml } from '@switchyard/pml';
import { checkOp, combine, type ReduceOp } from './ops.js';
import { decodeTyped, encodeTyped, kindOf, type NumericArray } from './typed.js';

const TAG_BARRIER = 1;
const TAG_BCAST = 2;
const TAG_REDUCE = 3;

/**
 * Collectives over point-to-point messages in their own matching context, so they never meet
 * an application's receives. All ranks call them in the same order (as MPI requires), and each
 * peer's messages arrive in order, so fixed tags per operation suffice.
 */
export class Collectives {
  constructor(private readonly pml: Pml) {}

  /** Dissemination barrier: ⌈log2 size⌉ rounds of zero-byte messages. */
  async barrier(): Promise<void> {
    const { rank, size } = this.pml;
    for (let step = 1; step < size; step <<= 1) {
      const send = this.pml.isend(new Uint8Array(0), (rank + step) % size, TAG_BARRIER, CTX_COLLECTIVE);
      await this.pml.irecv((rank - step + size) % size, TAG_BARRIER, CTX_COLLECTIVE).wait();
      await send.wait();
    }
  }

  /** Binomial-tree broadcast of a typed array from `root`; every rank returns the root's array. */
  async bcast<T extends NumericArray>(data: T | undefined, root: number): Promise<T> {
    const { rank, size } = this.pml;
    this.#checkRoot(root);
    const relative = (rank - root + size) % size;
    let message: Uint8Array;
    let mask = 1;
    if (rank === root) {
      if (!data) throw new TypeError('bcast: the root must pass the data');
      message = Buffer.concat(encodeTyped(data));
    } else {
      while (!(relative & mask)) mask <<= 1;
      message = (await this.pml.irecv((rank - mask + size) % size, TAG_BCAST, CTX_COLLECTIVE).wait()).data;
    }
    if (rank === root) while (mask < size) mask <<= 1;
    const sends = [];
    for (mask >>= 1; mask > 0; mask >>= 1) {
      if (relative + mask < size) sends.push(this.pml.isend(message, (rank + mask) % size, TAG_BCAST, CTX_COLLECTIVE));
    }
    await Promise.all(sends.map((s) => s.wait()));
    return (rank === root ? data : decodeTyped(message)) as T;
  }

  /** Binomial-tree reduction to `root`: the root gets the combined array, others undefined. */
  async reduce<T extends NumericArray>(data: T, op: ReduceOp, root: number): Promise<T | undefined> {
    const { rank, size } = this.pml;
    this.#checkRoot(root);
    checkOp(op);
    kindOf(data);
    const relative = (rank - root + size) % size;
    const acc = decodeTyped(Buffer.concat(encodeTyped(data))) as T;
    for (let mask = 1; mask < size; mask <<= 1) {
      if (relative & mask) {
        await this.pml.isend(Buffer.concat(encodeTyped(acc)), ((relative & ~mask) + root) % size, TAG_REDUCE, CTX_COLLECTIVE).wait();
        return undefined;
      }
      const child = relative | mask;
      if (child < size) {
        const got = await this.pml.irecv((child + root) % size, TAG_REDUCE, CTX_COLLECTIVE).wait();
        combine(op, acc, decodeTyped(got.data));
      }
    }
    return acc;
  }

  async allreduce<T extends NumericArray>(data: T, op: ReduceOp): Promise<T> {
    const reduced = await this.reduce(data, op, 0);
    return this.bcast(reduced, 0);
  }

  #checkRoot(root: number): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.pml.size) {
      throw new RangeError(`root must be a rank from 0 to ${this.pml.size - 1}, got ${root}`);
    }
  }
}
