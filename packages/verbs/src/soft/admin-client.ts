import { lstatSync, readdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidOfMgmtSocketName } from './address.js';
import {
  SoftVerbsAdminCodes,
  type MgmtAction,
  type MgmtReply,
  type MgmtRequest,
  type SoftDeviceStatus,
  type SoftVerbsAdminCode,
} from './mgmt-protocol.js';
import { processState, softVerbsDir, softVerbsFolder } from './runtime-dir.js';

/** A failure of the operator's side, with a typed `code` (see SoftVerbsAdminCodes). */
export class SoftVerbsAdminError extends Error {
  override readonly name = 'SoftVerbsAdminError';
  constructor(
    readonly code: SoftVerbsAdminCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SoftAdminOptions {
  /** Soft-verbs folders to look in; default: this user's, or every user's when run as root. */
  readonly dirs?: readonly string[];
  /** How long a process gets to answer (ms); default 5000. */
  readonly timeoutMs?: number;
}

/** One process's soft devices. */
export interface SoftVerbsProcess {
  readonly pid: number;
  readonly devices: readonly SoftDeviceStatus[];
  /** Set by `listSoftDevices` when the process did not answer (devices is empty then). */
  readonly error?: { readonly code: SoftVerbsAdminCode; readonly message: string };
}

const DEFAULT_TIMEOUT_MS = 5000;
/**
 * How much longer than the request's deadline we wait for the answer: a process that took the
 * request just in time has applied it, and its answer must not be mistaken for no answer.
 */
const ANSWER_GRACE_MS = 1000;

/**
 * The folders management sockets live in: this user's, and as root every user's under the
 * temporary folder (root may fault any user's process, like it may reset any HCA).
 */
export function adminDirs(base: string = tmpdir()): string[] {
  const own = softVerbsDir(base);
  if (process.getuid?.() !== 0) return [own];
  let names: string[] = [];
  try {
    names = readdirSync(base).filter((n) => n.startsWith('switchyard-'));
  } catch {
    // an unreadable temporary folder: only our own
  }
  return [...new Set([own, ...names.map((n) => join(base, n, softVerbsFolder()))])];
}

/**
 * Every process with an open (or administratively down) soft device, by pid. One that does not
 * answer in time (stopped, busy) is listed with `error` rather than failing the whole list.
 */
export async function listSoftDevices(options: SoftAdminOptions = {}): Promise<SoftVerbsProcess[]> {
  const found = await Promise.all(
    managementSockets(options).map(async ({ pid, path }) => {
      if (processState(pid) === 'gone') return undefined;
      try {
        const reply = await request(path, pid, { op: 'list' }, options.timeoutMs);
        return reply.ok ? { pid, devices: reply.devices } : undefined;
      } catch (err) {
        if (err instanceof SoftVerbsAdminError && err.code === SoftVerbsAdminCodes.TIMEOUT)
          return { pid, devices: [], error: { code: err.code, message: err.message } };
        // A socket nobody listens on (its process is exiting, or the pid was reused): not a device.
        return undefined;
      }
    }),
  );
  return found.filter((p) => p !== undefined).sort((a, b) => a.pid - b.pid);
}

/**
 * Applies `action` to the soft device `device` of process `pid`, from outside it: `reset` (as a
 * VM snapshot does to an HCA), `fail` (port DOWN, until `restore`), `restore` (port ACTIVE).
 * Resolves to the device's state afterwards; rejects with a SoftVerbsAdminError.
 */
export async function controlSoftDevice(
  pid: number,
  action: MgmtAction,
  device = 'soft0',
  options: SoftAdminOptions = {},
): Promise<SoftVerbsProcess> {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new TypeError(`a pid is a positive integer, got ${String(pid)}`);
  // Normally one socket; more when the process loaded two copies of this package (each has its
  // own devices): the action goes to every one, as a pulled cable reaches every user of the port.
  const sockets = managementSockets(options).filter((s) => s.pid === pid);
  const devices: SoftDeviceStatus[] = [];
  let refusal: SoftVerbsAdminError | undefined;
  for (const { path } of sockets) {
    let reply: MgmtReply;
    try {
      reply = await request(path, pid, { op: action, device }, options.timeoutMs);
    } catch (err) {
      if (err instanceof SoftVerbsAdminError) throw err;
      continue; // a stale socket of a pid now reused
    }
    if (reply.ok) devices.push(...reply.devices);
    else refusal ??= new SoftVerbsAdminError(reply.code, reply.message);
  }
  if (devices.length) return { pid, devices };
  throw refusal ?? noDevicesIn(pid);
}

function noDevicesIn(pid: number): SoftVerbsAdminError {
  const state = processState(pid);
  if (state === 'gone') return new SoftVerbsAdminError(SoftVerbsAdminCodes.NO_PROCESS, `no process with pid ${pid}`);
  if (state === 'foreign') {
    return new SoftVerbsAdminError(
      SoftVerbsAdminCodes.PERMISSION,
      `process ${pid} belongs to another user: only its user or root can reach its soft verbs devices`,
    );
  }
  return new SoftVerbsAdminError(SoftVerbsAdminCodes.NO_DEVICE, `process ${pid} has no soft verbs device open`);
}

function managementSockets(options: SoftAdminOptions): Array<{ pid: number; path: string }> {
  const out: Array<{ pid: number; path: string }> = [];
  for (const dir of options.dirs ?? adminDirs()) {
    let names: string[];
    let owner: number;
    try {
      const folder = lstatSync(dir);
      // Only a real folder its owner alone may write: one others can write could hold anyone's sockets.
      if (!folder.isDirectory() || folder.mode & 0o022) continue;
      owner = folder.uid;
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = pidOfMgmtSocketName(name);
      const path = join(dir, name);
      if (pid !== undefined && speaksFor(path, pid, owner)) out.push({ pid, path });
    }
  }
  return out;
}

/**
 * A socket speaks for process `pid` only when it is a socket (not a link to one) and the folder's
 * owner owns both it and the process: as root every user's
 * folder is read, and a user must not plant a socket named after another user's process (root's
 * own included), whose answers root would take for that process's devices.
 */
function speaksFor(path: string, pid: number, owner: number): boolean {
  try {
    // The socket itself, not a link to one: a link would speak with another folder's socket.
    const socket = lstatSync(path);
    return socket.isSocket() && socket.uid === owner && statSync(`/proc/${pid}`).uid === owner;
  } catch {
    return false;
  }
}

/** One request, one reply line. Connection failures reject with the socket error. */
function request(path: string, pid: number, body: MgmtRequest, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<MgmtReply> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new SoftVerbsAdminError(
          SoftVerbsAdminCodes.TIMEOUT,
          `process ${pid} did not answer within ${timeoutMs} ms (is it stopped or its event loop blocked?); it will not apply the ` +
            `request later`,
        ),
      );
    }, timeoutMs + ANSWER_GRACE_MS);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      socket.destroy();
      settle();
    };
    socket.setEncoding('utf8');
    socket.on('error', (err) => finish(() => reject(err)));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      let reply: MgmtReply;
      try {
        reply = JSON.parse(buffered.slice(0, nl)) as MgmtReply;
      } catch {
        return finish(() =>
          reject(new SoftVerbsAdminError(SoftVerbsAdminCodes.PROTOCOL, `process ${pid} answered something that is not JSON`)),
        );
      }
      finish(() => resolve(reply));
    });
    socket.on('close', () =>
      finish(() =>
        reject(new SoftVerbsAdminError(SoftVerbsAdminCodes.PROTOCOL, `process ${pid} closed the management socket without answering`)),
      ),
    );
    socket.write(`${JSON.stringify({ ...body, deadline })}\n`);
  });
}
