import { createConnection } from 'node:net';
import { WireUpError } from './errors.js';
import { FramedConnection, type ConnectionHandlers } from './framed-connection.js';
import { helloMac, isNonce, isTcpUri, macMatches, newNonce, parseTcpAddress, welcomeMac } from './oob-tcp-auth.js';
import type { Message, Welcome } from './protocol.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects to the HNP (a Unix socket path) or a rank's controller (`tcp://HOST:PORT`), says
 * `hello` and waits for the `welcome`. Over TCP the hello's secret is not sent: it answers the
 * controller's challenge and checks the welcome's proof instead (oob-tcp-auth.ts). From then on
 * messages go to `handlers` (including any that came in the same read as the welcome). Rejects
 * with a WireUpError on a refused hello, a missing launcher or a timeout.
 */
export function openOobConnection(
  uri: string,
  hello: Message & { readonly secret: string },
  handlers: ConnectionHandlers,
  timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<{ connection: FramedConnection; welcome: Welcome }> {
  const tcp = isTcpUri(uri);
  return new Promise((resolve, reject) => {
    const socket = tcp ? createConnection(parseTcpAddress(uri)) : createConnection(uri);
    const clientNonce = newNonce();
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      reject(new WireUpError(message));
    };
    const timer = setTimeout(() => fail(`the launcher at ${uri} did not answer within ${timeoutMs} ms`), timeoutMs);
    let serverNonce: string | undefined;
    const connection = new FramedConnection(socket, {
      message: (message) => {
        if (message.type === 'challenge' && tcp && serverNonce === undefined) {
          if (!isNonce(message.nonce)) return fail(`the controller at ${uri} sent a malformed challenge`);
          serverNonce = message.nonce;
          const { secret, ...rest } = hello;
          const rank = typeof hello.rank === 'number' ? hello.rank : undefined;
          connection.send({
            ...rest,
            nonce: clientNonce,
            mac: helloMac(secret, String(hello.role ?? 'rank'), rank, serverNonce, clientNonce),
          });
        } else if (message.type === 'welcome') {
          if (
            tcp &&
            (serverNonce === undefined ||
              !macMatches(welcomeMac(hello.secret, String(message.jobId), clientNonce, serverNonce), message.mac))
          ) {
            return fail(`the process at ${uri} could not prove it belongs to the job (wrong secret, or a stale address)`);
          }
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
      close: (error) => fail(`cannot reach the launcher at ${uri}: ${error ? error.message : 'connection closed'}`),
    });
    // Over TCP the controller speaks first (its challenge).
    if (!tcp) socket.once('connect', () => connection.send(hello));
  });
}
