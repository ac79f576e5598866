import { unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { newMgmtSocketName } from './address.js';
import {
  MAX_REQUEST_BYTES,
  parseRequest,
  SoftVerbsAdminCodes,
  type MgmtReply,
  type MgmtRequest,
  type SoftVerbsAdminCode,
} from './mgmt-protocol.js';

/**
 * A process's management socket in one soft-verbs folder: answers `list` and applies `reset`,
 * `fail` and `restore` through `handle`, on this process's event loop (so a busy process answers
 * late, as its soft "HCA" does to everything). The folder's 0700 mode is the access control, as
 * for the device sockets: the same user and root can connect.
 */
export class MgmtServer {
  readonly path: string;
  #server?: Server;

  constructor(
    dir: string,
    private readonly handle: (request: MgmtRequest) => MgmtReply,
  ) {
    this.path = join(dir, newMgmtSocketName());
  }

  start(): void {
    const server = createServer((socket) => {
      socket.unref();
      socket.setEncoding('utf8');
      let buffered = '';
      socket.on('error', () => {
        // The client went away; nothing to answer.
      });
      socket.on('data', (chunk: string) => {
        if (socket.writableEnded) return; // refused already; the rest is not read
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          socket.write(`${JSON.stringify(this.#answer(line))}\n`);
        }
        if (buffered.length > MAX_REQUEST_BYTES) {
          socket.end(`${JSON.stringify(refusal(`a request longer than ${MAX_REQUEST_BYTES} bytes`))}\n`);
        }
      });
    });
    server.on('error', (err) => {
      process.emitWarning(`soft verbs management socket ${this.path}: ${err.message}`, 'SwitchyardSoftVerbs');
    });
    server.listen(this.path);
    // Management must never keep a process alive.
    server.unref();
    this.#server = server;
  }

  stop(): void {
    this.#server?.close();
    this.#server = undefined;
  }

  /** For process exit, when close() has no chance to unlink the socket. */
  unlinkNow(): void {
    if (!this.#server) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  #answer(line: string): MgmtReply {
    const request = parseRequest(line);
    if (typeof request === 'string') return refusal(request);
    const late = request.deadline === undefined ? 0 : Date.now() - request.deadline;
    if (late > 0) {
      return refusal(
        `the request arrived ${late} ms after the client gave up (this process was not running); not applied`,
        SoftVerbsAdminCodes.TIMEOUT,
      );
    }
    try {
      return this.handle(request);
    } catch (err) {
      return refusal(`${request.op} failed: ${(err as Error).message}`);
    }
  }
}

function refusal(message: string, code: SoftVerbsAdminCode = SoftVerbsAdminCodes.PROTOCOL): MgmtReply {
  return { ok: false, pid: process.pid, code, message };
}
