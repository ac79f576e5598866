import type { Socket } from 'node:net';
import type { BenchPeer } from './measure.js';
import type { FrameReader } from './raw-frame-reader.js';

/** A frame: 4-byte LE length, then `size` bytes. */
function frame(size: number): Buffer {
  const f = Buffer.alloc(4 + size, 0xa5);
  f.writeUInt32LE(size, 0);
  return f;
}

/**
 * The bench's traffic over a plain stream socket, TCP or Unix (the raw Node baselines): each message is one
 * preallocated frame written as is; a window is 64 frames in one corked writev; waiting is on the
 * reader's frame count.
 */
export class RawTcpPeer implements BenchPeer {
  readonly #side: 0 | 1;
  readonly #socket: Socket;
  readonly #reader: FrameReader;
  /** Frames this side expects to have received so far. */
  #expected = 0;
  #frame = frame(0);
  readonly #ack = frame(4);
  readonly #empty = frame(0);

  constructor(side: 0 | 1, socket: Socket, reader: FrameReader) {
    this.#side = side;
    this.#socket = socket;
    this.#reader = reader;
  }

  /** One 0-byte round trip, initiated by side 0. */
  async sync(): Promise<void> {
    if (this.#side === 0) this.#socket.write(this.#empty);
    await this.#reader.until(++this.#expected);
    if (this.#side === 1) this.#socket.write(this.#empty);
  }

  async ping(size: number, count: number): Promise<void> {
    const f = this.#frameOf(size);
    for (let i = 0; i < count; i++) {
      this.#socket.write(f);
      await this.#reader.until(++this.#expected);
    }
  }

  async pong(size: number, count: number): Promise<void> {
    const f = this.#frameOf(size);
    for (let i = 0; i < count; i++) {
      await this.#reader.until(++this.#expected);
      this.#socket.write(f);
    }
  }

  async sendWindows(size: number, windows: number, window: number): Promise<void> {
    const f = this.#frameOf(size);
    const socket = this.#socket;
    for (let w = 0; w < windows; w++) {
      socket.cork();
      for (let j = 0; j < window; j++) socket.write(f);
      socket.uncork();
      await this.#reader.until(++this.#expected);
    }
  }

  async recvWindows(_size: number, windows: number, window: number): Promise<void> {
    for (let w = 0; w < windows; w++) {
      this.#expected += window;
      await this.#reader.until(this.#expected);
      this.#socket.write(this.#ack);
    }
  }

  #frameOf(size: number): Buffer {
    if (this.#frame.length !== 4 + size) this.#frame = frame(size);
    return this.#frame;
  }
}
