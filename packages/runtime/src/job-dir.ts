import { chmodSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, sep } from 'node:path';
import { makeFolders } from './make-folders.js';
import { LaunchError } from './errors.js';

/** What `job.json` holds: enough for a tool to find and authenticate to a running job. */
export interface JobRecord {
  readonly jobId: string;
  /** The launcher's (HNP's) pid: the job is alive while it is. */
  readonly pid: number;
  readonly np: number;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** ISO 8601. */
  readonly startTime: string;
  /** When the launcher process started (launcher-alive.ts), so a reused pid is not taken for it. */
  readonly pidStart?: string;
  /** The launcher's pid namespace (`pid:[N]`): its pid means nothing to a process of another one. */
  readonly pidNamespace?: string;
  readonly socketPath: string;
  readonly jobDir: string;
  /** The job secret; the file is 0600 in a 0700 folder, so only the owner can read it. */
  readonly secret: string;
  /** Who started the ranks: `switchyard run` (absent or 'switchyard') or a PMIx launcher ('pmix'). */
  readonly launcher?: 'switchyard' | 'pmix';
  /** A PMIx job's controller addresses (`HOST:PORT`, best first); tools connect there over TCP. */
  readonly controller?: readonly string[];
  /** The host of the controlling process (PMIx jobs). */
  readonly host?: string;
  /** The record is there but its controller does not answer (the job died without removing it). */
  readonly stale?: boolean;
}

export const JOB_RECORD_FILE = 'job.json';
export const SOCKET_FILE = 'hnp.sock';
const JOB_DIR_PREFIX = 'job-';

/** Linux caps a Unix socket path at 107 bytes (sun_path is 108 with the NUL). */
const MAX_SOCKET_PATH = 107;

function userKey(): string {
  return typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username;
}

/** `${tmpdir}/switchyard-${uid}`: the per-user folder that holds one folder per running job. */
export function userJobsRoot(): string {
  return join(tmpdir(), `switchyard-${userKey()}`);
}

export function jobDirName(jobId: string): string {
  return `${JOB_DIR_PREFIX}${jobId}`;
}

export function isJobDirName(name: string): boolean {
  return name.startsWith(JOB_DIR_PREFIX);
}

/**
 * Creates `dir` as 0700, or checks an existing one is a real folder we own and tightens it to
 * 0700. The socket's only protection is this mode, so a folder another user planted in the
 * shared tmpdir must not be used.
 */
export function ensurePrivateDir(dir: string): void {
  // lstat first: mkdir over a file (or a symlink) fails with a bare EEXIST that names no reason.
  if (!lstatSync(dir, { throwIfNoEntry: false })) {
    try {
      makeFolders(dir, 0o700);
    } catch (err) {
      throw new LaunchError(`cannot create ${dir}: ${(err as Error).message}`);
    }
  }
  checkPrivateDir(dir);
  chmodSync(dir, 0o700);
}

/**
 * Throws a LaunchError unless `dir` is a real folder of this user that no other user may write
 * to (as ssh treats ~/.ssh): one planted by someone else, or opened to everyone, could hold
 * records and sockets that are not ours.
 */
export function checkPrivateDir(dir: string): void {
  const stat = lstatSync(dir);
  // Another user may have put it in the shared tmpdir first: say how to work around them.
  const elsewhere = dir.startsWith(tmpdir() + sep) ? ' (set TMPDIR to a folder of your own to work elsewhere)' : '';
  if (!stat.isDirectory()) {
    const what = stat.isSymbolicLink() ? 'a symbolic link' : 'a file';
    throw new LaunchError(`${dir} exists and is not a directory (${what} of uid ${stat.uid}); refusing to use it${elsewhere}`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid) {
    throw new LaunchError(`${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid}); refusing to use it${elsewhere}`);
  }
  if (stat.mode & 0o022) {
    const mode = (stat.mode & 0o777).toString(8);
    throw new LaunchError(`${dir} is writable by other users (mode ${mode}); refusing to use it (remove it, or chmod 700 it)`);
  }
}

/** Creates the private folder of a new job and returns its path and socket path. */
export function createJobDir(jobId: string): { jobDir: string; socketPath: string } {
  const root = userJobsRoot();
  ensurePrivateDir(root);
  const jobDir = join(root, jobDirName(jobId));
  // Not recursive: a folder already there (an id collision) is an error, not something to reuse.
  mkdirSync(jobDir, { mode: 0o700 });
  chmodSync(jobDir, 0o700);
  const socketPath = join(jobDir, SOCKET_FILE);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    removeJobDir(jobDir);
    throw new LaunchError(
      `the job socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; set TMPDIR to a shorter folder`,
    );
  }
  return { jobDir, socketPath };
}

export function writeJobRecord(record: JobRecord): void {
  writeFileSync(join(record.jobDir, JOB_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

export function removeJobDir(jobDir: string): void {
  rmSync(jobDir, { recursive: true, force: true });
}
