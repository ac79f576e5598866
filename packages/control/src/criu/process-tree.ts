/**
 * CRIU dump and restore of one process tree: a job's launcher with its ranks, or (later) one rank
 * alone, possibly into another host's network namespace. Knows nothing of jobs: the caller says
 * which tree, where its images go and how its outside connections (stdio) are re-attached.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isProcessRunning } from '@switchyard/runtime';
import { CheckpointError } from './errors.js';
import { inNetns } from './netns.js';
import { criuLogIn, settleCriuLog } from './work-dir.js';

/** The tree's processes and threads, as CRIU restores them: every id must be free again. */
export interface TreeIds {
  readonly pids: readonly number[];
  /** Thread ids, the processes' own included. */
  readonly tids: readonly number[];
}

/** One of the root's standard fds that leads outside the tree (the caller's pipe, terminal, file). */
export interface OutsideFd {
  readonly fd: 0 | 1 | 2;
  /** What /proc/PID/fd/N links to: `pipe:[123]`, `socket:[456]` or a file's path. */
  readonly target: string;
}

export interface DumpOptions {
  readonly criu: string;
  readonly pid: number;
  /** An existing, empty folder for the images. */
  readonly imagesDir: string;
  /** The processes go on after the dump (otherwise CRIU kills them once saved). */
  readonly leaveRunning: boolean;
  /** The tree shares the caller's session (not its own session leader): CRIU's --shell-job. */
  readonly shellJob: boolean;
  /** Outside fds of the tree (re-attached at restore with --inherit-fd). */
  readonly outside: readonly OutsideFd[];
  /** The network namespace CRIU runs in: the tree's own when it is not the caller's (netns.ts). */
  readonly netns?: string;
  /** The UTS namespace CRIU runs in: the tree's own, so its host name is no namespace of its own to save. */
  readonly uts?: string;
  /** Keep CRIU's log after a dump that worked: the caller checks the images, then settles it (settleCriuLog). */
  readonly keepLog?: boolean;
}

export interface RestoreOptions {
  readonly criu: string;
  readonly imagesDir: string;
  readonly shellJob: boolean;
  /** CRIU's --inherit-fd: the outside fd `key` (`pipe:[123]`) becomes the open file `fd` of this process. */
  readonly inherit: ReadonlyArray<{ readonly key: string; readonly fd: number }>;
  /** The network namespace the tree comes back in (another host's): CRIU runs there. */
  readonly netns?: string;
  /** The UTS namespace it comes back in (the other host's name), when that host has one. */
  readonly uts?: string;
  /**
   * CRIU runs in a session of its own, which a --shell-job tree then joins. Otherwise the tree
   * joins the caller's session, whose leader may be invisible here (a caller started from outside
   * this pid namespace, as by a container's exec): the next dump then fails ("A session leader ...
   * is outside of its pid namespace"). Not for a tree that reads a terminal: it needs the caller's.
   */
  readonly newSession?: boolean;
  /** How long CRIU may take before it is stopped with what it restored; default: from the images' size. */
  readonly timeoutMs?: number;
}

/** The root and every descendant, found through /proc (children of each thread). */
export function treeIds(root: number): TreeIds {
  const pids: number[] = [];
  const tids: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    pids.push(pid);
    for (const tid of list(`/proc/${pid}/task`).map(Number)) {
      tids.push(tid);
      const children = read(`/proc/${pid}/task/${tid}/children`).trim();
      if (children) queue.push(...children.split(/\s+/).map(Number));
    }
  }
  return { pids, tids };
}

/** Whether `pid` is its session's leader: otherwise CRIU needs --shell-job for the tree. */
export function isSessionLeader(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  return sid === pid;
}

/**
 * The root's fds 0-2 that lead outside the tree: pipes and sockets (at restore they are attached to
 * files the restorer chooses) and regular files (reopened by name, or attached elsewhere on request).
 * /dev/null needs nothing; a terminal is CRIU's --shell-job.
 */
export function outsideFds(pid: number, insideInodes: ReadonlySet<string>): OutsideFd[] {
  const out: OutsideFd[] = [];
  for (const fd of [0, 1, 2] as const) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (/^(pipe|socket):\[\d+\]$/.test(target) && !insideInodes.has(target)) out.push({ fd, target });
    else if (target.startsWith('/') && !target.startsWith('/dev/') && !target.endsWith(' (deleted)')) out.push({ fd, target });
  }
  return out;
}

/**
 * Regular files the root has open for writing only, past its stdio: the launcher's per-rank output
 * files (`run --output-filename`). A restore re-attaches them appending, as their writer does:
 * left to CRIU, one that grew since the dump (a job saved with --leave-running wrote on) is
 * refused ("has bad size").
 */
export function writtenFiles(pid: number): string[] {
  const files: string[] = [];
  for (const name of list(`/proc/${pid}/fd`)) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (!target.startsWith('/') || target.startsWith('/dev/') || target.startsWith('/proc/') || target.endsWith(' (deleted)')) continue;
      const flags = /^flags:\s+([0-7]+)$/m.exec(read(`/proc/${pid}/fdinfo/${fd}`))?.[1];
      // O_ACCMODE is the low two bits; O_WRONLY is 1 (read-write files may be read at an offset).
      if (flags !== undefined && (Number.parseInt(flags, 8) & 3) === 1 && statSync(target).isFile()) files.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return [...new Set(files)];
}

/** CRIU's --inherit-fd name of an outside fd: `pipe:[123]`, or a file's path without its leading '/'. */
export function inheritKey(f: Pick<OutsideFd, 'target'>): string {
  return f.target.startsWith('/') ? f.target.slice(1) : f.target;
}

/** Pipes and sockets the tree's other processes hold: those of the root that lead there are inside. */
export function inodesHeldBy(pids: readonly number[]): Set<string> {
  const held = new Set<string>();
  for (const pid of pids) {
    for (const fd of list(`/proc/${pid}/fd`)) {
      try {
        held.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {}
    }
  }
  return held;
}

/** Ids of `ids` in use now, each with the command that holds it and whether it is a zombie. */
export function idsInUse(ids: readonly number[]): Array<{ id: number; command: string; zombie: boolean }> {
  return ids.flatMap((id) => {
    const stat = read(`/proc/${id}/stat`);
    // A zombie's id is freed once its parent (here: init, about a second later) collects it.
    return stat ? [{ id, command: read(`/proc/${id}/comm`).trim() || '?', zombie: !isProcessRunning(id) }] : [];
  });
}

/**
 * Why ids are still taken, for the refusal: zombies left for pid 1 mean an init that does not
 * collect orphans (a container whose pid 1 is the application, as `docker run` without --init).
 */
export function whyIdsTaken(busy: ReadonlyArray<{ zombie: boolean }>): string {
  if (!busy.length || !busy.every((b) => b.zombie)) return '';
  return (
    ": they are exited processes nobody collected; this pid namespace's pid 1 does not reap orphans " +
    '(run under an init that does, such as tini or `docker run --init`)'
  );
}

/** Waits until none of `ids` exists, at most `timeoutMs`; returns those still in use. */
export async function waitIdsFree(
  ids: readonly number[],
  timeoutMs: number,
): Promise<Array<{ id: number; command: string; zombie: boolean }>> {
  const deadline = Date.now() + timeoutMs;
  let busy = idsInUse(ids);
  while (busy.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    busy = idsInUse(busy.map((b) => b.id));
  }
  return busy;
}

/**
 * `criu dump` of the tree at `pid`; resolves with the time it took and CRIU's log (removed
 * already, unless `keepLog`). A failure names the log, kept when CRIU wrote something.
 */
export async function dumpTree(o: DumpOptions): Promise<{ ms: number; log: string }> {
  const log = criuLogIn('dump');
  const args = ['dump', '-t', String(o.pid), '-D', o.imagesDir, '-W', dirname(log), '-o', basename(log), '-v2', '--tcp-established'];
  if (o.shellJob) args.push('--shell-job');
  if (o.leaveRunning) args.push('--leave-running');
  // A Unix socket to an outside peer (Node's 'pipe' stdio is a socketpair) is one CRIU may leave
  // half-dumped when told its inode: the restore attaches it to a file of the restorer's choosing.
  const sockets = [...new Set(o.outside.filter((f) => f.target.startsWith('socket:')).map((f) => /\d+/.exec(f.target)![0]))];
  if (sockets.length) args.push(`--ext-unix-sk=${sockets.join(',')}`);
  const started = performance.now();
  // In a session of its own: a Ctrl-C meant for the caller must not stop CRIU while it holds the
  // tree (the caller defers it until the dump is done: see holdStopSignals).
  const result = await runCriu(o.criu, args, { stdio: ['ignore', 'ignore', 'pipe'], netns: o.netns, uts: o.uts, newSession: true });
  const ms = Math.round(performance.now() - started);
  if (result.code !== 0) {
    const errors = criuErrors(log, result.stderr);
    settleCriuLog(log, true);
    throw new CheckpointError('ERR_SWITCHYARD_CRIU_DUMP', `criu dump failed (exit ${result.code}): ${errors}`, false, { log });
  }
  if (!o.keepLog) settleCriuLog(log, false);
  return { ms, log };
}

/**
 * `criu restore` of the images, detached: the tree runs on by itself (reparented to init) once
 * this resolves. Retried while a freshly freed id is not yet reusable ("File exists").
 */
export async function restoreTree(o: RestoreOptions, attempts = 3): Promise<{ ms: number }> {
  const log = criuLogIn('restore');
  try {
    const restored = await restoreWith(o, log, attempts);
    settleCriuLog(log, false);
    return restored;
  } catch (err) {
    settleCriuLog(log, err instanceof CheckpointError && err.log === log);
    throw err;
  }
}

/** CRIU's words for a TCP send queue it could not restore (soccr.c). */
const UNSENT_QUEUE_REFUSED = "Can't restore not-sent send queue data";

async function restoreWith(o: RestoreOptions, log: string, attempts: number): Promise<{ ms: number }> {
  // The inherited files are passed as fds 3, 4, ... of criu, in the order given.
  const args = ['restore', '-D', o.imagesDir, '-W', dirname(log), '-d', '-o', basename(log), '-v2', '--tcp-established'];
  if (o.shellJob) args.push('--shell-job');
  o.inherit.forEach((h, i) => args.push('--inherit-fd', `fd[${3 + i}]:${h.key}`));
  const stdio: Stdio = [o.shellJob ? 'inherit' : 'ignore', 'ignore', 'pipe', ...o.inherit.map((h) => h.fd)];
  const timeoutMs = o.timeoutMs ?? restoreTimeoutFor(o.imagesDir);
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    const run = { stdio, netns: o.netns, uts: o.uts, newSession: o.newSession, timeoutMs, stopOnSignal: true };
    const result = await runCriu(o.criu, args, run);
    const ms = Math.round(performance.now() - started);
    // Told to stop as CRIU finished: what it restored had left it already (-d), and runs.
    if (result.interrupted && result.code === 0) return { ms };
    if (result.interrupted) {
      const what = 'criu restore and the processes it had restored so far were killed; nothing of the job runs';
      const why = `stopped by ${result.interrupted}: ${what}`;
      throw new CheckpointError('ERR_SWITCHYARD_CRIU_RESTORE', why);
    }
    // Stopped at the timeout: a failure, whatever CRIU managed to exit with.
    if (result.timedOut) {
      const why =
        `criu restore did not finish within ${Math.round(timeoutMs / 1000)} s (crs_criu_restore_timeout): stopped it and ` +
        `the processes it had restored so far; the images may be damaged (log: ${log})`;
      throw new CheckpointError('ERR_SWITCHYARD_CRIU_RESTORE', why, false, { log });
    }
    if (result.code === 0) return { ms };
    const errors = criuErrors(log, result.stderr);
    if (attempt < attempts && errors.includes('File exists')) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    // A connection dumped with data it had not sent yet, which the kernel refuses to queue again
    // (EPIPE; seen after saves with --leave-running): restored closed instead, every connection
    // of the tree, as a reset would leave them. The BTLs reconnect and the PML resends.
    const established = args.indexOf('--tcp-established');
    // (The whole log: the summary above keeps only CRIU's last errors, which are about what followed.)
    if (established >= 0 && `${read(log)}${result.stderr}`.includes(UNSENT_QUEUE_REFUSED)) {
      args.splice(established, 1, '--tcp-close');
      continue;
    }
    throw new CheckpointError('ERR_SWITCHYARD_CRIU_RESTORE', `criu restore failed (exit ${result.code}): ${errors}`, false, { log });
  }
}

type Stdio = Array<'ignore' | 'pipe' | 'inherit' | number>;

type CriuResult = { code: number | null; stderr: string; timedOut?: boolean; interrupted?: NodeJS.Signals };

interface CriuRun {
  readonly stdio: Stdio;
  readonly netns?: string | undefined;
  readonly uts?: string | undefined;
  readonly newSession?: boolean | undefined;
  /** Past it CRIU and every process it started so far are killed. */
  readonly timeoutMs?: number | undefined;
  /** So too when this process is told to stop (Ctrl-C, SIGTERM, a hangup): a restore's. */
  readonly stopOnSignal?: boolean;
}

/** A restore may take 60 s, and 1 s more per 20 MB of images (the pages are read back). */
function restoreTimeoutFor(imagesDir: string): number {
  let bytes = 0;
  for (const name of list(imagesDir)) {
    try {
      bytes += statSync(join(imagesDir, name)).size;
    } catch {
      // gone meanwhile
    }
  }
  return 60_000 + Math.ceil(bytes / 20e6) * 1000;
}

/** What tells this process to stop: Ctrl-C, kill, a terminal or ssh session gone. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs CRIU. A restore's, past its timeout or when this process is told to stop, is killed with
 * every process it started so far: a half-restored tree left behind holds the job's ids, and no
 * later restore could bring it back.
 */
function runCriu(criu: string, args: string[], o: CriuRun): Promise<CriuResult> {
  const command = inNetns(o.netns, criu, args, o.uts);
  const timeoutMs = o.timeoutMs;
  return new Promise((resolve) => {
    const child = spawn(command.file, command.args, { stdio: o.stdio, detached: o.newSession ?? false });
    let stderr = '';
    let timedOut = false;
    const stopTree = () => {
      if (child.pid === undefined) return;
      // The whole tree is listed first, then killed from the root down: a parent killed after its
      // children would see them die and carry on meanwhile (CRIU's own exit code then says 0).
      for (const pid of treeIds(child.pid).pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    };
    let interrupted: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      interrupted ??= signal;
      stopTree();
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), stopTree()), timeoutMs);
    const forget = () => {
      clearTimeout(timer);
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    };
    if (o.stopOnSignal) for (const s of STOP_SIGNALS) process.on(s, onSignal);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => (forget(), resolve({ code: null, stderr: err.message })));
    child.on('close', (code) => {
      forget();
      resolve({ code, stderr, ...(timedOut ? { timedOut } : {}), ...(interrupted ? { interrupted } : {}) });
    });
  });
}

/** The Error lines of a CRIU log, without the harmless RLIMIT_NOFILE one. */
function criuErrors(log: string, stderr: string): string {
  const lines = `${read(log)}\n${stderr}`
    .split('\n')
    .filter((l) => /Error|error/.test(l) && !l.includes('RLIMIT_NOFILE'))
    .map((l) => l.replace(/^\(\d+\.\d+\)\s*/, '').trim());
  return lines.length ? `${lines.slice(-4).join(' / ')} (log: ${log})` : `see ${log}`;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function list(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
