import { readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { JOB_RECORD_FILE, removeJobDir, SOCKET_FILE, type JobRecord } from './job-dir.js';

/**
 * Whether the launcher a job record names still runs: its pid exists and, where the record says
 * when that process started, it is the same process (a pid reused by another program after the
 * launcher was SIGKILLed does not keep the job's folder, and its secret, alive).
 */
export function launcherAlive(record: Pick<JobRecord, 'pid' | 'pidStart' | 'pidNamespace'>): boolean {
  // A launcher of another pid namespace (a container sharing /tmp) cannot be looked up by its
  // pid from here: its job is taken as running, never cleaned up from outside.
  if (record.pidNamespace !== undefined && record.pidNamespace !== pidNamespace()) return true;
  const stat = procStat(record.pid);
  // Without /proc (or once the pid is gone) only the pid can tell.
  if (!stat) return isPidAlive(record.pid);
  // A zombie is dead, only not yet reaped by its parent.
  if (stat.state === 'Z') return false;
  return record.pidStart === undefined || stat.start === record.pidStart;
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else; it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's pid namespace, as /proc names it (`pid:[4026531836]`); 'unknown' without /proc. */
export function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return 'unknown';
  }
}

/** Whether `pid` runs: it exists and is no zombie waiting for its parent (or init) to collect it. */
export function isProcessRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Whether `pid` is stopped (SIGSTOP, Ctrl-Z, or a debugger holding it): it runs no code until SIGCONT. */
export function isProcessStopped(pid: number): boolean {
  return isStoppedState(procStat(pid)?.state);
}

/** /proc's states of a stopped process: by a signal (T) or by a tracer (t). */
const isStoppedState = (state: string | undefined): boolean => state === 'T' || state === 't';

/**
 * Whether the launcher a job record names is stopped (SIGSTOP, Ctrl-Z, a debugger): only a launcher
 * of this pid namespace can be looked up, and only the same process (not a reused pid) counts.
 */
export function launcherStopped(record: Pick<JobRecord, 'pid' | 'pidStart' | 'pidNamespace'>): boolean {
  if (record.pidNamespace !== undefined && record.pidNamespace !== pidNamespace()) return false;
  const stat = procStat(record.pid);
  if (!stat || (record.pidStart !== undefined && stat.start !== record.pidStart)) return false;
  return isStoppedState(stat.state);
}

/** How an operator or a peer is told that `pid` is stopped: the launcher's ctl answers and a rank's PeerLostError say it alike. */
export function stoppedProcessNote(pid: number): string {
  return `its process (pid ${pid}) is stopped (SIGSTOP, Ctrl-Z or a debugger)`;
}

/** The same, for an operator who can resume it: ctl's answers about a stopped rank or launcher. */
export function stoppedResumeNote(pid: number): string {
  return `${stoppedProcessNote(pid)}; 'kill -CONT ${pid}' resumes it`;
}

/** When `pid` started, in clock ticks after boot (/proc/PID/stat field 22); undefined where /proc does not tell. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

function procStat(pid: number): { state: string; start: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which may itself hold spaces and parentheses: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, start: fields[22 - 3]! };
}

/**
 * A rank that lost its launcher removes the job's folder (its record holds the job secret) when
 * the launcher is really gone: SIGKILLed, it could not remove the folder itself. `hnpUri` is the
 * launcher's socket in that folder; anything else (a TCP controller) has no folder to remove.
 */
export function removeOrphanedJobDir(hnpUri: string, waitMs = 0): boolean {
  if (!hnpUri.endsWith(`/${SOCKET_FILE}`)) return false;
  const jobDir = dirname(hnpUri);
  let record: JobRecord;
  try {
    record = JSON.parse(readFileSync(join(jobDir, JOB_RECORD_FILE), 'utf8')) as JobRecord;
  } catch {
    return false;
  }
  if (typeof record.pid !== 'number' || record.socketPath !== hnpUri) return false;
  // A killed launcher's socket closes while the kernel is still tearing the process down: it
  // looks alive for a moment after its rank saw the close.
  const until = Date.now() + waitMs;
  while (launcherAlive(record)) {
    if (Date.now() >= until) return false;
    Atomics.wait(PAUSE, 0, 0, 10);
  }
  removeJobDir(jobDir);
  return true;
}

/** What a bounded synchronous wait sleeps on (nothing ever wakes it). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
