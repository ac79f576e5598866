import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STOP_DIR, stopFile, type StopRequest } from '../protocol.js';

interface Stop {
  readonly file: string;
  readonly request: StopRequest;
  /** When the process was seen stopped (state T), or undefined while the signal is on its way. */
  stoppedAt?: number;
  sentAt: number;
  continued: boolean;
}

/** How often the runner looks for requests and releases: short next to any stop it serves. */
const POLL_MS = 50;
/** A process SIGSTOP did not stop within this long is given up (it died, or is not ours). */
const STOP_WITHIN_MS = 5000;

/**
 * Stops ranks of a kit job from outside, the way a real stall happens (a peer under a long
 * compute phase, a debugger, a swapped-out host): a rank asks for it with a request file in the
 * job's scratch folder, this runner sends SIGSTOP, says when the process is stopped, and sends
 * SIGCONT after the requested time or once every rank that must release it has. Only processes
 * of the job (descendants of its launcher) are signalled, and `close()` continues every one still
 * stopped, so no stopped process outlives the job or the kit.
 */
export class Stopper {
  readonly #dir: string;
  readonly #stops = new Map<string, Stop>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    scratch: string,
    readonly jobPid: number,
  ) {
    this.#dir = join(scratch, STOP_DIR);
    mkdirSync(this.#dir, { recursive: true });
    this.#timer = setInterval(() => this.#poll(), POLL_MS);
  }

  /** Continues every process still stopped and stops watching. */
  close(): void {
    clearInterval(this.#timer);
    for (const stop of this.#stops.values()) this.#continue(stop);
  }

  #poll(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return; // The job ended and its scratch folder is gone.
    }
    for (const name of names) {
      if (!name.startsWith('request-') || !name.endsWith('.json') || this.#stops.has(name)) continue;
      this.#start(name);
    }
    for (const stop of this.#stops.values()) this.#advance(stop, names);
  }

  #start(name: string): void {
    let request: StopRequest;
    try {
      request = JSON.parse(readFileSync(join(this.#dir, name), 'utf8')) as StopRequest;
    } catch {
      return; // Half written: read again next time.
    }
    const stop: Stop = { file: name, request, sentAt: Date.now(), continued: false };
    this.#stops.set(name, stop);
    if (!Number.isInteger(request.pid) || request.pid <= 1 || !descendsFrom(request.pid, this.jobPid)) {
      stop.continued = true;
      return;
    }
    signal(request.pid, 'SIGSTOP');
  }

  #advance(stop: Stop, names: readonly string[]): void {
    if (stop.continued) return;
    const { phase, rank, ms, releases } = stop.request;
    const now = Date.now();
    if (stop.stoppedAt === undefined) {
      if (processState(stop.request.pid) === 'T') {
        stop.stoppedAt = now;
        note(join(this.#dir, stopFile('stopped', phase, rank)));
      } else if (now - stop.sentAt > STOP_WITHIN_MS) this.#continue(stop);
      return;
    }
    const released = releases > 0 && names.filter((n) => n.startsWith(`${stopFile('release', phase, rank)}-`)).length >= releases;
    if (released || now - stop.stoppedAt >= ms) this.#continue(stop);
  }

  #continue(stop: Stop): void {
    if (stop.continued) return;
    stop.continued = true;
    // A rank that died meanwhile needs nothing (and its pid may name another process one day).
    const state = processState(stop.request.pid);
    if (state !== undefined && state !== 'Z' && state !== 'X') signal(stop.request.pid, 'SIGCONT');
    note(join(this.#dir, stopFile('continued', stop.request.phase, stop.request.rank)));
  }
}

/** Tells the ranks through a file; the job may have ended and its folder gone meanwhile. */
function note(file: string): void {
  try {
    writeFileSync(file, String(Date.now()));
  } catch {
    // Nobody is left to read it.
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

/** Field 3 of /proc/PID/stat: R, S, T (stopped), Z... */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Is `pid` the job's launcher or one of its descendants? Nothing else is ever stopped. */
function descendsFrom(pid: number, root: number): boolean {
  let at: number | undefined = pid;
  for (let depth = 0; at !== undefined && at > 1 && depth < 16; depth++) {
    if (at === root) return true;
    at = parentOf(at);
  }
  return false;
}
