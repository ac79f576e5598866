import { createConnection } from 'node:net';
import { WireUpError } from './errors.js';
import { FramedConnection, type ConnectionHandlers } from './framed-connection.js';
import type { Message, Welcome } from './protocol.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects to the HNP socket, says `hello` and waits for the `welcome`. From then on messages go
 * to `handlers` (including any that came in the same read as the welcome). Rejects with a
 * WireUpError on a refused hello, a missing launcher or a timeout.
 */
export function openOobConnection(
  socketPath: string,
  hello: Message,
  handlers: ConnectionHandlers,
  timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<{ connection: FramedConnection; welcome: Welcome }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      reject(new WireUpError(message));
    };
    const timer = setTimeout(() => fail(`the launcher at ${socketPath} did not answer within ${timeoutMs} ms`), timeoutMs);
    const connection = new FramedConnection(socket, {
      message: (message) => {
        if (message.type === 'welcome') {
          settled = true;
          clearTimeout(timer);
          connection.setHandlers(handlers);
          resolve({ connection, welcome: message as Welcome });
        } else if (message.type === 'reject') {
          fail(`the launcher refused this connection: ${String(message.reason)}`);
        } else {
          fail(`the launcher answered hello with '${message.type}'`);
        }
      },
      close: (error) => fail(`cannot reach the launcher at ${socketPath}: ${error ? error.message : 'connection closed'}`),
    });
    socket.once('connect', () => connection.send(hello));
  });
}
