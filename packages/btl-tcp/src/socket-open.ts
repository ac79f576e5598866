import { connect, Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import type { SocketOpener } from './connection.js';

/** Opens a TCP connection whose reads go into `onread`. */
export function connectOpener(host: string, port: number, family: 4 | 6): SocketOpener {
  return (onread) => ({ socket: connect({ host, port, family, onread }), reading: true });
}

/**
 * Takes over a socket a server accepted (paused: `pauseOnConnect`) so its reads go into `onread`
 * like a connector's. Node's servers have no `onread` option, so the accepted handle moves to a
 * socket made with one, and the server's socket, now without a handle, is closed (the server
 * stops counting it). Where that is not possible the accepted socket is used as it is, reading
 * 'data' events.
 */
export function acceptOpener(accepted: Socket): SocketOpener {
  return (onread) => {
    const holder = accepted as unknown as { _handle?: unknown };
    const handle = holder._handle;
    if (!handle || typeof handle !== 'object' || accepted.destroyed) return { socket: accepted, reading: false };
    holder._handle = null;
    accepted.destroy();
    const options: SocketConstructorOpts & { handle: unknown; onread: OnReadOpts } = { handle, readable: true, writable: true, onread };
    return { socket: new Socket(options), reading: true };
  };
}
