import type { Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from './frames.js';
import { isMessage, type Message } from './protocol.js';

export interface ConnectionHandlers {
  message(message: Message): void;
  /** Called once, when the socket is gone; `error` when it went because of a fault. */
  close(error: Error | undefined): void;
}

/** A socket speaking OOB frames: sends messages, delivers them, reports the close once. */
export class FramedConnection {
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  #handlers: ConnectionHandlers;
  #closed = false;
  #error: Error | undefined;

  /** `maxFrameBytes`: the largest frame read until `frameLimit` changes it (default: MAX_FRAME_BYTES). */
  constructor(socket: Socket, handlers: ConnectionHandlers, maxFrameBytes?: number) {
    this.#decoder = new FrameDecoder(maxFrameBytes);
    this.#socket = socket;
    this.#handlers = handlers;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#handlers.close(this.#error);
    });
  }

  get socket(): Socket {
    return this.#socket;
  }

  /** Raises (or lowers) the largest frame accepted from now on; the next header is judged by it. */
  set frameLimit(bytes: number) {
    this.#decoder.limit = bytes;
  }

  get closed(): boolean {
    return this.#closed || this.#socket.destroyed;
  }

  /** Hands the connection to new handlers (the HNP does so once a hello says who is calling). */
  setHandlers(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
  }

  /** Sends one message; false when the connection is already gone. */
  send(message: Message): boolean {
    if (this.closed || this.#socket.writableEnded) return false;
    this.#socket.write(encodeFrame(message));
    return true;
  }

  /** Sends a last message (if any), then closes our side once it is written. */
  end(message?: Message): void {
    if (this.closed || this.#socket.writableEnded) return;
    if (message) this.#socket.end(encodeFrame(message));
    else this.#socket.end();
  }

  destroy(error?: Error): void {
    if (error) this.#error ??= error;
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const message of messages) {
      if (this.closed) return;
      if (!isMessage(message)) {
        this.destroy(new Error('received a frame that is not an object with a string "type"'));
        return;
      }
      this.#handlers.message(message);
    }
  }
}
