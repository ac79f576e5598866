import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { lineSink } from './lines.js';
import type { ClientMessage, ServerMessage } from './protocol.js';
import type { StepReport } from './types.js';
import { benchTempDir } from './temp-dirs.js';

/**
 * The bench's side of the gate: a Unix socket in a private folder that every measuring process
 * connects to. Through it the bench tells both processes of a run when to run which step of which
 * phase (so the runs of a mode take turns batch by batch and see the machine in the same state; a
 * run not on turn sleeps in epoll, never spinning) and side 0 reports how long each step took.
 */
export class GateServer {
  readonly path: string;
  readonly #dir: string;
  readonly #server: Server;
  readonly #channels = new Map<string, GateChannel>();
  readonly #sockets = new Set<Socket>();

  private constructor(dir: string, server: Server) {
    this.#dir = dir;
    this.path = join(dir, 'gate.sock');
    this.#server = server;
    server.on('connection', (socket) => this.#accept(socket));
  }

  static async start(): Promise<GateServer> {
    const dir = benchTempDir('gate');
    // However the bench ends (a reader of its output that went away ends it with EPIPE, before close()).
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const gate = new GateServer(dir, createServer());
    await new Promise<void>((resolve, reject) => {
      gate.#server.once('error', reject);
      gate.#server.listen(gate.path, () => resolve());
    });
    return gate;
  }

  /** The channel of one run (both its processes), created on first use. */
  channel(session: string): GateChannel {
    let channel = this.#channels.get(session);
    if (!channel) this.#channels.set(session, (channel = new GateChannel()));
    return channel;
  }

  async close(): Promise<void> {
    this.#sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let channel: GateChannel | undefined;
    socket.pipe(
      lineSink((line) => {
        let message: ClientMessage;
        try {
          message = JSON.parse(line) as ClientMessage;
        } catch {
          return socket.destroy();
        }
        if ('hello' in message) {
          channel = this.#channels.get(message.hello);
          if (!channel || !channel.attach(message.side, socket, message.cores)) socket.destroy();
        } else if (channel && 'report' in message) {
          channel.report(message.report);
        }
      }),
    );
  }
}

/** Both processes of one run, as the gate sees them. */
export class GateChannel {
  readonly #sides: [Socket | undefined, Socket | undefined] = [undefined, undefined];
  readonly #cores: [readonly number[] | undefined, readonly number[] | undefined] = [undefined, undefined];
  #onReady: (() => void) | undefined;
  readonly #ready = new Promise<void>((resolve) => (this.#onReady = resolve));
  #listener: ((report: StepReport) => void) | undefined;

  /** Resolves once both sides have connected. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Where side 0's reports go. */
  onReport(listener: (report: StepReport) => void): void {
    this.#listener = listener;
  }

  send(message: ServerMessage): void {
    const line = `${JSON.stringify(message)}\n`;
    for (const socket of this.#sides) socket?.write(line);
  }

  /** Where each side may run, as it said when it connected; undefined unless both said. */
  cores(): [readonly number[], readonly number[]] | undefined {
    const [a, b] = this.#cores;
    return a && b ? [a, b] : undefined;
  }

  attach(side: number, socket: Socket, cores?: readonly number[]): boolean {
    if ((side !== 0 && side !== 1) || this.#sides[side]) return false;
    this.#sides[side] = socket;
    if (Array.isArray(cores) && cores.every((c) => Number.isInteger(c))) this.#cores[side] = cores;
    if (this.#sides[0] && this.#sides[1]) this.#onReady!();
    return true;
  }

  report(report: StepReport): void {
    this.#listener?.(report);
  }
}
