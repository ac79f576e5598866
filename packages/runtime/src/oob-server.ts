import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { FramedConnection } from './framed-connection.js';
import type { JobController } from './job-controller.js';
import { formatTcpUri, helloMac, isNonce, macMatches, newNonce, welcomeMac } from './oob-tcp-auth.js';
import type { Message } from './protocol.js';
import { secretMatches } from './secret.js';

/** A connection that has not said hello by then is dropped (it holds a slot and a socket). */
const HELLO_TIMEOUT_MS = 10_000;

export interface OobServerOptions {
  /** The HNP's Unix socket. */
  readonly socketPath: string;
  readonly secret: string;
  readonly controller: JobController;
  log(line: string): void;
}

export interface TcpOobServerOptions extends Omit<OobServerOptions, 'socketPath'> {
  /** The addresses to listen on (one listener each, any free port). */
  readonly hosts: readonly string[];
}

export interface OobServer {
  /** `tcp://HOST:PORT` of each listener (TCP only; empty for the Unix socket). */
  readonly uris: readonly string[];
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** How a first frame proves the caller knows the job secret. */
interface Authentication {
  /** Sent on connect (the TCP challenge), or nothing. */
  readonly greeting?: Message;
  proves(hello: Message, role: string, rank: number | undefined): boolean;
  welcome(hello: Message): Record<string, unknown>;
}

/**
 * The HNP's listening side of the OOB channel, on its private Unix socket: the first frame must
 * be a `hello` carrying the job secret (the 0700 folder keeps other users from connecting).
 */
export async function startOobServer(options: OobServerOptions): Promise<OobServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) =>
    accept(socket, sockets, options, { proves: (hello) => secretMatches(hello.secret, options.secret), welcome: () => ({}) }),
  );
  await listen(server, (done) => server.listen(options.socketPath, done));
  // The 0700 folder already keeps other users out; this is a second lock on the same door.
  chmodSync(options.socketPath, 0o600);
  server.on('error', (err) => options.log(`out-of-band socket error: ${err.message}`));
  return { uris: [], close: () => closeAll([server], sockets) };
}

/**
 * A rank's controller listening on TCP (no launcher of ours): every connection is challenged
 * and must answer with an HMAC of the job secret (oob-tcp-auth.ts).
 */
export async function startTcpOobServer(options: TcpOobServerOptions): Promise<OobServer> {
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const uris: string[] = [];
  try {
    for (const host of options.hosts) {
      const server = createServer((socket) => {
        const nonce = newNonce();
        accept(socket, sockets, options, {
          greeting: { type: 'challenge', nonce },
          proves: (hello, role, rank) =>
            isNonce(hello.nonce) && macMatches(helloMac(options.secret, role, rank, nonce, hello.nonce), hello.mac),
          welcome: (hello) => ({ mac: welcomeMac(options.secret, options.controller.jobId, String(hello.nonce), nonce) }),
        });
      });
      servers.push(server);
      await listen(server, (done) => server.listen(0, host, done));
      server.on('error', (err) => options.log(`controller socket error on ${host}: ${err.message}`));
      const address = server.address();
      if (address && typeof address === 'object') uris.push(formatTcpUri(host, address.port));
    }
  } catch (err) {
    await closeAll(servers, sockets);
    throw err;
  }
  return { uris, close: () => closeAll(servers, sockets) };
}

/**
 * Authenticates one connection. Accepted connections are handed to the controller; refused ones
 * get a `reject`, are closed and logged, and the job goes on.
 */
function accept(socket: Socket, sockets: Set<Socket>, options: Omit<OobServerOptions, 'socketPath'>, auth: Authentication): void {
  const { controller, log } = options;
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
      const welcome = () => ({ type: 'welcome', jobId: controller.jobId, size: controller.size, ...auth.welcome(message) });
      if (message.role === 'tool') {
        if (!auth.proves(message, 'tool', undefined)) return refuse(`from a tool${pid}`, 'wrong job secret');
        connection.send(welcome());
        controller.toolConnected(connection);
        return;
      }
      const rank = message.rank;
      if (!Number.isInteger(rank)) return refuse(`from a rank${pid}`, 'hello without an integer rank');
      if (message.role === 'monitor') {
        const who = `from the activity monitor of rank ${rank as number}${pid}`;
        if (!auth.proves(message, 'monitor', rank as number)) return refuse(who, 'wrong job secret');
        const refusal = controller.refuseMonitor(rank as number);
        if (refusal) return refuse(who, refusal);
        connection.send(welcome());
        controller.monitorConnected(rank as number, connection);
        return;
      }
      const who = `claiming rank ${rank as number}${pid}`;
      if (!auth.proves(message, 'rank', rank as number)) return refuse(who, 'wrong job secret');
      const refusal = controller.refuseRank(rank as number);
      if (refusal) return refuse(who, refusal);
      connection.send(welcome());
      controller.rankConnected(rank as number, connection);
    },
  });
  if (auth.greeting) connection.send(auth.greeting);
}

function listen(server: Server, start: (done: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    start(() => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeAll(servers: readonly Server[], sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => {});
}
