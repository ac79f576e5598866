import type { Request } from '@switchyard/pml';
import type { World } from '../app/world.js';
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
      const reply = world.irecv(this.#other, DATA_TAG);
      await world.isend(data, this.#other, DATA_TAG).wait();
      await reply.wait();
    }
  }

  async pong(size: number, count: number): Promise<void> {
    const world = this.#world;
    const data = this.#data(size);
    let next = world.irecv(this.#other, DATA_TAG);
    for (let i = 0; i < count; i++) {
      await next.wait();
      if (i + 1 < count) next = world.irecv(this.#other, DATA_TAG);
      await world.isend(data, this.#other, DATA_TAG).wait();
    }
  }

  async sendWindows(size: number, windows: number, window: number): Promise<void> {
    const world = this.#world;
    const data = this.#data(size);
    const sends: Promise<void>[] = new Array(window);
    for (let w = 0; w < windows; w++) {
      const ack = world.irecv(this.#other, ACK_TAG);
      for (let j = 0; j < window; j++) sends[j] = world.isend(data, this.#other, DATA_TAG).wait();
      await Promise.all(sends);
      await ack.wait();
    }
  }

  async recvWindows(_size: number, windows: number, window: number): Promise<void> {
    const world = this.#world;
    const post = () => Array.from({ length: window }, () => world.irecv(this.#other, DATA_TAG));
    let recvs: Request<unknown>[] = post();
    for (let w = 0; w < windows; w++) {
      await Promise.all(recvs.map((r) => r.wait()));
      // The next window's receives are posted before the ack lets the sender start it.
      if (w + 1 < windows) recvs = post();
      await world.isend(this.#ack, this.#other, ACK_TAG).wait();
    }
  }

  /** `size` bytes of the one send buffer, grown when needed. */
  #data(size: number): Buffer {
    if (this.#buffer.length < size) this.#buffer = Buffer.alloc(size, 0xa5);
    return this.#buffer.subarray(0, size);
  }
}
