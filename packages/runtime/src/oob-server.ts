import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { FramedConnection } from './framed-connection.js';
import type { JobController } from './job-controller.js';
import type { Message } from './protocol.js';
import { secretMatches } from './secret.js';

/** A connection that has not said hello by then is dropped (it holds a slot and a socket). */
const HELLO_TIMEOUT_MS = 10_000;

export interface OobServerOptions {
  readonly socketPath: string;
  readonly secret: string;
  readonly controller: JobController;
  log(line: string): void;
}

export interface OobServer {
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/**
 * The HNP's listening side of the OOB channel. It only authenticates: the first frame must be a
 * `hello` with the job secret, from a rank (a free rank number) or a tool. Accepted connections
 * are handed to the controller; refused ones get a `reject`, are closed and logged, and the job
 * goes on.
 */
export async function startOobServer(options: OobServerOptions): Promise<OobServer> {
  const { controller, secret, log } = options;
  const sockets = new Set<Socket>();

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const timer = setTimeout(() => connection.destroy(), HELLO_TIMEOUT_MS);
    const refuse = (who: string, reason: string) => {
      log(`rejected an out-of-band connection${who ? ` ${who}` : ''}: ${reason}`);
      connection.end({ type: 'reject', reason });
      // A peer that does not close after the reject is cut off.
      setTimeout(() => connection.destroy(), 1000).unref();
    };
    const connection: FramedConnection = new FramedConnection(socket, {
      close: () => clearTimeout(timer),
      message: (message: Message) => {
        clearTimeout(timer);
        // Until authenticated, further frames are ignored.
        connection.setHandlers({ message: () => {}, close: () => {} });
        if (message.type !== 'hello') return refuse('', `expected a hello first, got '${message.type}'`);
        const pid = Number.isInteger(message.pid) ? ` (pid ${message.pid as number})` : '';
        if (message.role === 'tool') {
          if (!secretMatches(message.secret, secret)) return refuse(`from a tool${pid}`, 'wrong job secret');
          connection.send({ type: 'welcome', jobId: controller.jobId, size: controller.size });
          controller.toolConnected(connection);
          return;
        }
        const rank = message.rank;
        if (!Number.isInteger(rank)) return refuse(`from a rank${pid}`, 'hello without an integer rank');
        const who = `claiming rank ${rank as number}${pid}`;
        if (!secretMatches(message.secret, secret)) return refuse(who, 'wrong job secret');
        const refusal = controller.refuseRank(rank as number);
        if (refusal) return refuse(who, refusal);
        connection.send({ type: 'welcome', jobId: controller.jobId, size: controller.size });
        controller.rankConnected(rank as number, connection);
      },
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The 0700 folder already keeps other users out; this is a second lock on the same door.
  chmodSync(options.socketPath, 0o600);
  server.on('error', (err) => log(`out-of-band socket error: ${err.message}`));

  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
