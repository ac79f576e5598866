import type { Socket } from 'node:net';

/**
 * Keeps a socket ref'd only while something waits on it. An idle OOB socket must not keep a
 * rank or a tool alive: a script that is done should exit on its own.
 */
export class SocketHold {
  readonly #socket: Socket;
  #count = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.unref();
  }

  hold(): void {
    if (this.#count++ === 0) this.#socket.ref();
  }

  release(): void {
    if (this.#count === 0) return;
    if (--this.#count === 0) this.#socket.unref();
  }

  /** Wraps an operation: the socket is held until `promise` settles. */
  async during<T>(promise: Promise<T>): Promise<T> {
    this.hold();
    try {
      return await promise;
    } finally {
      this.release();
    }
  }
}
