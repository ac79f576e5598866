import { RequestError, ToolCallError, ToolConnectionClosedError, WireUpError, type RankFailureCode } from './errors.js';
import { firstReachable } from './first-reachable.js';
import type { FramedConnection } from './framed-connection.js';
import type { JobRecord } from './job-dir.js';
import { readJobRecord } from './list-jobs.js';
import { openOobConnection } from './oob-client.js';
import type { Message } from './protocol.js';
import { SocketHold } from './socket-hold.js';

/** A tool's session with a running job's HNP (what `switchyard ctl` is built on). */
export interface ToolClient {
  readonly jobId: string;
  readonly size: number;
  /** Has the HNP send `body` to `ranks`; resolves rank -> reply, or rejects with a RequestError. */
  request(ranks: readonly number[] | 'all', body: unknown, timeoutMs: number): Promise<Map<number, unknown>>;
  /** Runs an HNP-side method (built in: `status`). */
  call(method: string, params?: unknown): Promise<unknown>;
  close(): void;
}

interface Pending {
  resolve(message: Message): void;
  reject(error: Error): void;
}

/**
 * Connects to a running job as a tool. `job` is the job's folder, a rank controller's record file,
 * or a record (from listJobs()); the secret comes from the record, which only the job's owner can
 * read. A PMIx job's controller is reached over TCP at the first of its addresses that answers.
 */
export async function connectTool(job: string | JobRecord, options: { connectTimeoutMs?: number } = {}): Promise<ToolClient> {
  const record = typeof job === 'string' ? readJobRecord(job) : job;
  if (!record) throw new WireUpError(`no readable job record in ${String(job)}: is the job still running?`);
  const pending = new Map<number, Pending>();
  let closedError: Error | null = null;
  const open = (uri: string) => openOobConnection(
    uri,
    { type: 'hello', role: 'tool', secret: record.secret, pid: process.pid },
    {
      message: (message) => {
        const id = message.id as number;
        const waiter = pending.get(id);
        if (message.type !== 'response' || !waiter) return;
        pending.delete(id);
        waiter.resolve(message);
      },
      close: () => {
        closedError = new ToolConnectionClosedError(`the connection to job ${record.jobId} closed`);
        for (const waiter of pending.values()) waiter.reject(closedError);
        pending.clear();
      },
    },
    options.connectTimeoutMs,
  );
  const { connection, welcome } = record.controller ? await firstReachable(record.controller.map((a) => `tcp://${a}`), open) : await open(record.socketPath);
  return new Tool(connection, welcome.jobId, welcome.size, pending, () => closedError);
}

class Tool implements ToolClient {
  readonly #connection: FramedConnection;
  readonly #hold: SocketHold;
  readonly #pending: Map<number, Pending>;
  readonly #closedError: () => Error | null;
  #nextId = 1;

  constructor(
    connection: FramedConnection,
    readonly jobId: string,
    readonly size: number,
    pending: Map<number, Pending>,
    closedError: () => Error | null,
  ) {
    this.#connection = connection;
    this.#hold = new SocketHold(connection.socket);
    this.#pending = pending;
    this.#closedError = closedError;
  }

  async request(ranks: readonly number[] | 'all', body: unknown, timeoutMs: number): Promise<Map<number, unknown>> {
    const response = await this.#send({ type: 'request', ranks: ranks === 'all' ? 'all' : [...ranks], body, timeoutMs });
    if (response.ok) return new Map(response.result as Array<[number, unknown]>);
    const failures = response.failures as Array<[number, string]> | undefined;
    if (!failures) throw new ToolCallError(String(response.error), codeOf(response));
    const codes = new Map((response.codes as Array<[number, RankFailureCode]> | undefined) ?? []);
    throw new RequestError(
      new Map(failures),
      new Map((response.replies as Array<[number, unknown]> | undefined) ?? []),
      String(response.error),
      codes,
    );
  }

  async call(method: string, params?: unknown): Promise<unknown> {
    const response = await this.#send({ type: 'call', method, params });
    if (!response.ok) throw new ToolCallError(String(response.error), codeOf(response));
    return response.result;
  }

  close(): void {
    this.#connection.end();
  }

  #send(message: Record<string, unknown> & { type: string }): Promise<Message> {
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    const id = this.#nextId++;
    const response = new Promise<Message>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#connection.send({ ...message, id });
    return this.#hold.during(response);
  }
}

function codeOf(response: Message): string | undefined {
  return typeof response.code === 'string' ? response.code : undefined;
}
