import { createConnection, type Socket } from 'node:net';
import { allowedCpus } from '@switchyard/runtime/cpu-binding';
import type { ClientMessage, GateAddress, ServerMessage } from './protocol.js';
import type { StepReport } from './types.js';

/**
 * A measuring process's side of the gate (see gate-server.ts): waits for its turns, reports steps.
 * When the bench goes away before saying `end`, the process exits: nothing it started outlives it.
 */
export class GateClient {
  readonly #socket: Socket;
  readonly #queue: ServerMessage[] = [];
  #waiter: ((message: ServerMessage) => void) | undefined;
  #ended = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.#deliver(JSON.parse(pending.slice(0, nl)) as ServerMessage);
        pending = pending.slice(nl + 1);
      }
    });
    const gone = () => {
      if (this.#ended) return;
      process.stderr.write('switchyard bench: the bench that started this process went away\n');
      process.exit(1);
    };
    socket.on('close', gone);
    socket.on('error', gone);
  }

  static async connect(address: GateAddress, side: number): Promise<GateClient> {
    const socket = createConnection(address.path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new GateClient(socket);
    const cores = allowedCpus();
    client.#write({ hello: address.session, side, ...(cores ? { cores } : {}) });
    return client;
  }

  /** The next step to run, or undefined when the bench says the run is over. */
  async next(): Promise<{ phase: number; step: number } | undefined> {
    const message = this.#queue.shift() ?? (await new Promise<ServerMessage>((resolve) => (this.#waiter = resolve)));
    if ('go' in message) return { phase: message.go, step: message.step };
    this.#ended = true;
    return undefined;
  }

  report(report: StepReport): void {
    this.#write({ report });
  }

  close(): void {
    this.#ended = true;
    this.#socket.end();
  }

  #write(message: ClientMessage): void {
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  #deliver(message: ServerMessage): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter(message);
    else this.#queue.push(message);
  }
}
