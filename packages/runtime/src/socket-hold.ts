import type { Socket } from 'node:net';
import { RefHold } from './ref-hold.js';

/**
 * Keeps a socket ref'd only while something waits on it. An idle OOB socket must not keep a
 * rank or a tool alive: a script that is done should exit on its own.
 */
export class SocketHold extends RefHold {
  constructor(socket: Socket) {
    socket.unref();
    super(socket);
  }
}
