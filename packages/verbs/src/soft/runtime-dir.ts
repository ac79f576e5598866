import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pidOfAnySocketName } from './address.js';

/**
 * `${tmpdir}/switchyard-<uid>/soft-verbs-<pid namespace>`: where soft devices bind their Unix
 * sockets. The per-user root is the one the runtime keeps job folders in; both levels are 0700,
 * because the folder mode is the sockets' only protection (any process that can connect can RDMA
 * into registered memory whose rkey it guesses).
 */
export function softVerbsDir(base: string = tmpdir()): string {
  const root = userRoot(base);
  ensurePrivateDir(root);
  const dir = join(root, softVerbsFolder());
  ensurePrivateDir(dir);
  return dir;
}

function userRoot(base: string): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username;
  return join(base, `switchyard-${user}`);
}

/**
 * Removes what soft devices of processes that are gone left in this user's folder (ranks killed
 * with their job: SIGKILL, or SIGTERM before they could close): the next device opened would,
 * but a launcher does it once its job has ended, so a killed job leaves nothing behind. Creates
 * nothing.
 */
export function sweepSoftVerbsFolder(base: string = tmpdir()): void {
  const dir = join(userRoot(base), softVerbsFolder());
  if (existsSync(dir)) sweepStaleSockets(dir, pidOfAnySocketName);
}

let folder: string | undefined;

/**
 * The folder's name: one per pid namespace. A socket's name carries its owner's pid, which in
 * another pid namespace (a container sharing /tmp, `unshare -p`) names another process or none:
 * from there a live device's socket looked like a dead process's, and sweeping it cut every link
 * to that device. Peers in different pid namespaces cannot use soft verbs together anyway (CMA
 * and descriptor copies name pids).
 */
export function softVerbsFolder(): string {
  if (folder === undefined) {
    let ns: string | undefined;
    try {
      ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    } catch {
      // No /proc: one folder for all.
    }
    folder = ns ? `soft-verbs-${ns}` : 'soft-verbs';
  }
  return folder;
}

/** Creates `dir` 0700, or checks an existing one is a real folder of ours and tightens it. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new Error(`soft verbs: ${dir} exists and is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid) {
    throw new Error(`soft verbs: ${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid}); refusing to use it`);
  }
  if ((stat.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/**
 * Removes sockets left by soft devices of processes that died without closing (a SIGKILLed rank).
 * The owner's pid is the first field of the file name (see address.ts).
 */
export function sweepStaleSockets(dir: string, pidOf: (name: string) => number | undefined): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = pidOf(name);
    if (pid === undefined || pid === process.pid || isAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // another process swept it first
    }
  }
}

function isAlive(pid: number): boolean {
  return processState(pid) !== 'gone';
}

/** Whether `pid` runs, and whether we may signal it (ours, or anyone's as root). */
export function processState(pid: number): 'ours' | 'foreign' | 'gone' {
  try {
    process.kill(pid, 0);
    return 'ours';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'foreign' : 'gone';
  }
}
