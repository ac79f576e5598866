import type { Request } from '@switchyard/pml';
import type { World } from '@switchyard/mpi';
import type { BenchPeer } from './measure.js';

const DATA_TAG = 1;
const ACK_TAG = 2;

/**
 * The bench's traffic over the Switchyard app API, as an application would write it: receives are
 * posted before the message they wait for can arrive, sends come from one preallocated buffer.
 */
export class SwitchyardPeer implements BenchPeer {
  readonly #world: World;
  readonly #other: number;
  #buffer = Buffer.alloc(0);
  /** Where messages are received (as an MPI benchmark receives into one buffer, and the raw baseline does). */
  #into = Buffer.alloc(0);
  readonly #ack = Buffer.alloc(4);

  constructor(world: World) {
    this.#world = world;
    this.#other = 1 - world.rank;
  }

  sync(): Promise<void> {
    return this.#world.barrier();
  }

  async ping(size: number, count: number): Promise<void> {
    const world = this.#world;
    const data = this.#data(size);
    for (let i = 0; i < count; i++) {
      const reply = world.irecv(this.#other, DATA_TAG, this.#recvBuffer(size));
      await world.isend(data, this.#other, DATA_TAG).wait();
      await reply.wait();
    }
  }

  async pong(size: number, count: number): Promise<void> {
    const world = this.#world;
    const data = this.#data(size);
    const into = this.#recvBuffer(size);
    let next = world.irecv(this.#other, DATA_TAG, into);
    for (let i = 0; i < count; i++) {
      await next.wait();
      if (i + 1 < count) next = world.irecv(this.#other, DATA_TAG, into);
      await world.isend(data, this.#other, DATA_TAG).wait();
    }
  }

  async sendWindows(size: number, windows: number, window: number): Promise<void> {
    const world = this.#world;
    const data = this.#data(size);
    const sends: Promise<void>[] = new Array(window);
    for (let w = 0; w < windows; w++) {
      const ack = world.irecv(this.#other, ACK_TAG, this.#recvBuffer(this.#ack.length));
      for (let j = 0; j < window; j++) sends[j] = world.isend(data, this.#other, DATA_TAG).wait();
      await Promise.all(sends);
      await ack.wait();
    }
  }

  async recvWindows(size: number, windows: number, window: number): Promise<void> {
    const world = this.#world;
    const into = this.#recvBuffer(size);
    const post = () => Array.from({ length: window }, () => world.irecv(this.#other, DATA_TAG, into));
    let recvs: Request<unknown>[] = post();
    for (let w = 0; w < windows; w++) {
      await Promise.all(recvs.map((r) => r.wait()));
      // The next window's receives are posted before the ack lets the sender start it.
      if (w + 1 < windows) recvs = post();
      await world.isend(this.#ack, this.#other, ACK_TAG).wait();
    }
  }

  /** The one receive buffer, at least `size` bytes. */
  #recvBuffer(size: number): Buffer {
    if (this.#into.length < size) this.#into = Buffer.alloc(size);
    return this.#into;
  }

  /** `size` bytes of the one send buffer, grown when needed. */
  #data(size: number): Buffer {
    if (this.#buffer.length < size) this.#buffer = Buffer.alloc(size, 0xa5);
    return this.#buffer.subarray(0, size);
  }
}
