import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { FramedConnection } from './framed-connection.js';
import { MAX_FRAME_BYTES } from './frames.js';
import type { JobController } from './job-controller.js';
import { formatTcpUri, helloMac, isNonce, macMatches, newNonce, welcomeMac } from './oob-tcp-auth.js';
import type { Message } from './protocol.js';
import { secretMatches } from './secret.js';

/** A connection that has not said hello by then is dropped (it holds a slot and a socket). */
export const HELLO_TIMEOUT_MS = 10_000;

/** The largest frame read before a hello is accepted: a hello is a few hundred bytes. */
export const HELLO_MAX_BYTES = 4096;

/**
 * How many connections may be waiting to say hello at once; more are closed on arrival. Each
 * rank opens at most two (its control connection and its activity monitor's), one after the
 * other, so ranks and tools stay far below this; only a flood reaches it.
 */
export function pendingHelloLimit(size: number): number {
  return 64 + 2 * size;
}

export interface OobServerOptions {
  /** The HNP's Unix socket. */
  readonly socketPath: string;
  readonly secret: string;
  readonly controller: JobController;
  log(line: string): void;
  /** How long a connection may take to say hello (default HELLO_TIMEOUT_MS). */
  readonly helloTimeoutMs?: number;
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
  const gate = new HelloGate(options);
  const auth: Authentication = { proves: (hello) => secretMatches(hello.secret, options.secret), welcome: () => ({}) };
  const server = createServer((socket) => accept(socket, sockets, gate, options, auth));
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
  const gate = new HelloGate(options);
  const servers: Server[] = [];
  const uris: string[] = [];
  try {
    for (const host of options.hosts) {
      const server = createServer((socket) => {
        // This controller runs inside a rank (mpirun, srun): the other ranks' connections must
        // not keep that rank from finalizing at exit, or their finalize would wait for it for ever.
        socket.unref();
        const nonce = newNonce();
        accept(socket, sockets, gate, options, {
          greeting: { type: 'challenge', nonce },
          proves: (hello, role, rank) =>
            isNonce(hello.nonce) && macMatches(helloMac(options.secret, role, rank, nonce, hello.nonce), hello.mac),
          welcome: (hello) => ({ mac: welcomeMac(options.secret, options.controller.jobId, String(hello.nonce), nonce) }),
        });
      });
      servers.push(server);
      await listen(server, (done) => server.listen(0, host, done));
      server.unref();
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
function accept(
  socket: Socket,
  sockets: Set<Socket>,
  gate: HelloGate,
  options: Omit<OobServerOptions, 'socketPath'>,
  auth: Authentication,
): void {
  const { controller, log } = options;
  if (!gate.admit()) {
    socket.destroy();
    return;
  }
  sockets.add(socket);
  let waiting = true;
  const helloDone = () => {
    if (waiting) gate.release();
    waiting = false;
  };
  socket.on('close', () => sockets.delete(socket));
  const helloTimeoutMs = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
  const timer = setTimeout(() => {
    log(`closed an out-of-band connection that sent no hello within ${helloTimeoutMs} ms`);
    connection.destroy();
  }, helloTimeoutMs);
  const refuse = ({ who, reason, quiet }: Refusal) => {
    if (!quiet) log(`rejected an out-of-band connection${who ? ` ${who}` : ''}: ${reason}`);
    connection.end({ type: 'reject', reason });
    // A peer that does not close after the reject is cut off.
    setTimeout(() => connection.destroy(), 1000).unref();
  };
  const connection: FramedConnection = new FramedConnection(
    socket,
    {
      close: (error) => {
        clearTimeout(timer);
        if (waiting && error) log(`closed an out-of-band connection before its hello: ${error.message}`);
        helloDone();
      },
      message: (message: Message) => {
        clearTimeout(timer);
        helloDone();
        // Until authenticated, further frames are ignored.
        connection.setHandlers({ message: () => {}, close: () => {} });
        const refusal = admitHello(message, connection, controller, auth);
        if (refusal) refuse(refusal);
      },
    },
    HELLO_MAX_BYTES,
  );
  if (auth.greeting) connection.send(auth.greeting);
}

/** Hands an authenticated hello's connection to the controller, or says why it is refused. */
function admitHello(message: Message, connection: FramedConnection, controller: JobController, auth: Authentication): Refusal | undefined {
  if (message.type !== 'hello') return { who: '', reason: `expected a hello first, got '${message.type}'` };
  const pid = Number.isInteger(message.pid) ? ` (pid ${message.pid as number})` : '';
  const welcome = () => {
    connection.frameLimit = MAX_FRAME_BYTES;
    connection.send({ type: 'welcome', jobId: controller.jobId, size: controller.size, ...auth.welcome(message) });
  };
  if (message.role === 'tool') {
    if (!auth.proves(message, 'tool', undefined)) return { who: `from a tool${pid}`, reason: 'wrong job secret' };
    welcome();
    controller.toolConnected(connection);
    return undefined;
  }
  const rank = message.rank;
  if (!Number.isInteger(rank)) return { who: `from a rank${pid}`, reason: 'hello without an integer rank' };
  const r = rank as number;
  const monitor = message.role === 'monitor';
  const who = monitor ? `from the activity monitor of rank ${r}${pid}` : `claiming rank ${r}${pid}`;
  if (!auth.proves(message, monitor ? 'monitor' : 'rank', r)) return { who, reason: 'wrong job secret' };
  if (monitor && controller.rankDone(r)) {
    // The monitor thread starts while the rank runs; a short rank can finalize before its
    // monitor says hello. Nothing is wrong, so nothing is said.
    return { who, reason: `rank ${r} has already finished`, quiet: true };
  }
  const refusal = monitor ? controller.refuseMonitor(r) : controller.refuseRank(r);
  if (refusal) return { who, reason: refusal };
  welcome();
  if (monitor) controller.monitorConnected(r, connection);
  else controller.rankConnected(r, connection, Number.isInteger(message.pid) ? (message.pid as number) : undefined);
  return undefined;
}

interface Refusal {
  readonly who: string;
  readonly reason: string;
  /** An expected race, refused without a line in the launcher's output. */
  readonly quiet?: boolean;
}

/** Counts the connections of one server that have not said hello, and turns away those over the limit. */
class HelloGate {
  readonly #limit: number;
  readonly #log: (line: string) => void;
  #waiting = 0;
  #refused = 0;

  constructor(options: { readonly controller: JobController; log(line: string): void }) {
    this.#limit = pendingHelloLimit(options.controller.size);
    this.#log = options.log;
  }

  admit(): boolean {
    if (this.#waiting < this.#limit) {
      this.#waiting += 1;
      return true;
    }
    // One line per flood, not per connection: the count says how many went.
    if (this.#refused++ === 0) this.#log(`refusing out-of-band connections: ${this.#limit} are already waiting to say hello`);
    return false;
  }

  release(): void {
    this.#waiting -= 1;
    if (this.#refused > 0 && this.#waiting < this.#limit / 2) {
      this.#log(`accepting out-of-band connections again (${this.#refused} refused)`);
      this.#refused = 0;
    }
  }
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
