import { spawn, type ChildProcess } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { finished as streamFinished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus } from './exit-status.js';
import { isProcessRunning } from './launcher-alive.js';
import type { RankOutputFiles } from './output-files.js';
import { forwardLines, type SharedOutput } from './output-forwarding.js';

/** After a rank exits, how long its pipes may stay open (a grandchild holding them) before we cut them. */
const PIPE_DRAIN_MS = 1000;
/** How often the launcher looks whether a moved rank (no child of its own any more) still runs. */
const MOVED_POLL_MS = 200;

/** Named pipes a moved rank's stdout and stderr are attached to (CRIU's --inherit-fd at its restore). */
export interface MoveFifos {
  readonly stdout: string;
  readonly stderr: string;
}

/** A rank being moved to another host: its output comes through named pipes, its end is watched by pid. */
interface Move {
  readonly fifos: Socket[];
  readonly paths: MoveFifos;
  /** Between `leave` and `adopt`: its process may be gone (saved) without the rank having ended. */
  leaving: boolean;
  watch?: NodeJS.Timeout;
  /** The launcher's child was saved and ended by CRIU: the rank lives on as another process. */
  dumped: boolean;
  adopted?: number;
  gone: boolean;
  /** Why the rank is lost: the move stopped halfway and nobody will bring it back. */
  lost?: string;
}

export interface RankExit extends ExitStatus {
  /** Set when the process could not be started at all. */
  readonly error?: Error;
  /** Set when the rank was lost while being moved to another host, with why. */
  readonly lost?: string;
}

export interface RankSpawnOptions {
  readonly rank: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: SharedOutput;
  readonly stderr: SharedOutput;
  readonly tagOutput: boolean;
  /** Its stderr goes where its stdout goes, files included. */
  readonly mergeStderr?: boolean;
  /** Copies of its output, untagged (--output-filename). */
  readonly files?: RankOutputFiles;
  /** Piped to its stdin; without it the rank reads /dev/null. */
  readonly stdin?: NodeJS.ReadableStream;
}

/** One rank's OS process as the launcher manages it. */
export class RankProcess {
  readonly rank: number;
  readonly #child: ChildProcess;
  readonly #options: RankSpawnOptions;
  #exit: RankExit | null = null;
  #move: Move | undefined;
  #resolveExit!: (exit: RankExit) => void;
  #moved: Promise<void> = Promise.resolve();
  /** Resolves when the process has ended (or failed to start). */
  readonly exited: Promise<RankExit>;
  /** Resolves once it has ended and its output has been forwarded. */
  readonly finished: Promise<void>;

  constructor(options: RankSpawnOptions) {
    this.rank = options.rank;
    this.#options = options;
    const child = spawn(options.file, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const prefix = options.tagOutput ? `[${options.rank}] ` : null;
    forwardLines(child.stdout!, options.stdout, prefix);
    forwardLines(child.stderr!, options.mergeStderr ? options.stdout : options.stderr, prefix);
    const files = options.files;
    if (files) {
      copyTo(child.stdout!, files.stdout);
      copyTo(child.stderr!, files.stderr ?? files.stdout);
    }
    if (options.stdin && child.stdin) {
      const input = options.stdin;
      // A rank that exits (or closes its stdin) without reading it all is no error of the job.
      child.stdin.on('error', () => {});
      input.pipe(child.stdin);
      child.once('exit', () => input.unpipe(child.stdin!));
    }

    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve;
      child.once('exit', (code, signal) => {
        // CRIU ended the process it saved: the rank goes on elsewhere (adopt).
        const move = this.#move;
        if (move?.lost !== undefined) {
          // Lost before it was saved (lose() killed it): its output pipes close with it.
          this.#end(move, { code, signal, lost: move.lost }, () => {});
          return;
        }
        if (move) {
          move.dumped = true;
          return;
        }
        this.#exit ??= { code, signal };
        resolve(this.#exit);
      });
      child.once('error', (error) => {
        // 'error' without a pid: spawn failed and no 'exit' follows. With a pid it is a failed
        // kill() or similar, and the process is still ours to wait for.
        if (child.pid !== undefined) return;
        this.#exit ??= { code: null, signal: null, error };
        resolve(this.#exit);
      });
    });
    const forwarded = new Promise<void>((resolve) => {
      let drainTimer: NodeJS.Timeout | undefined;
      let closed = false;
      child.once('close', () => {
        closed = true;
        clearTimeout(drainTimer);
        resolve();
      });
      void this.exited.then(() => {
        if (closed || child.pid === undefined) return resolve();
        drainTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve();
        }, PIPE_DRAIN_MS);
      });
    });
    this.finished = forwarded
      .then(() => this.exited)
      .then(() => this.#moved)
      .then(() => closeFiles(files));
  }

  get pid(): number | undefined {
    return this.#move?.adopted ?? this.#child.pid;
  }

  get alive(): boolean {
    if (this.#move?.dumped) return (this.#move.adopted !== undefined || this.#move.leaving) && !this.#move.gone;
    return this.#exit === null && this.#child.pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Between `leave` and the end of its move (`adopt`, or the rank's end). */
  get moving(): boolean {
    return this.#move?.leaving === true;
  }

  /** The named pipes a rank moved before writes its output to (a next move keeps them). */
  get fifos(): MoveFifos | undefined {
    return this.#move?.paths;
  }

  /**
   * The rank is about to be moved (`ctl migrate`): the end of this child is not the rank's, and
   * its output comes through `fifos` from now on (read here; the restore attaches the moved
   * process's stdout and stderr to them). Opened read-write so they never report an end of file
   * while nobody writes (before the restore); the moved rank's end is found by its pid. A rank
   * moved before already writes to them: only its watch pauses until it runs again.
   */
  leave(fifos: MoveFifos): void {
    if (this.#move?.leaving) throw new Error(`rank ${this.rank} is already being moved`);
    if (this.#move) {
      this.#move.leaving = true;
      return;
    }
    const o = this.#options;
    const prefix = o.tagOutput ? `[${o.rank}] ` : null;
    const open = (path: string) =>
      new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    const out = open(fifos.stdout);
    const err = open(fifos.stderr);
    forwardLines(out, o.stdout, prefix);
    forwardLines(err, o.mergeStderr ? o.stdout : o.stderr, prefix);
    if (o.files) {
      copyTo(out, o.files.stdout);
      copyTo(err, o.files.stderr ?? o.files.stdout);
    }
    this.#move = { fifos: [out, err], paths: fifos, dumped: false, gone: false, leaving: true };
  }

  /**
   * The rank runs again as `pid` (restored by CRIU, no child of this launcher): watched until it
   * ends. When the move was given up before its process was saved, the child is the rank again.
   * The launcher cannot learn a moved rank's exit status: it ends as code 0, and whether it
   * finalized decides (as for every rank) whether the job counts it as a failure.
   */
  adopt(pid: number): void {
    const move = this.#move;
    if (!move?.leaving) throw new Error(`rank ${this.rank} is not being moved`);
    move.leaving = false;
    if (!move.dumped && this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#move = undefined;
      for (const f of move.fifos) f.destroy();
      return;
    }
    const watching = move.adopted !== undefined;
    move.adopted = pid;
    if (watching) return;
    let done!: () => void;
    this.#moved = new Promise<void>((resolve) => (done = resolve));
    move.watch = setInterval(() => {
      // While it moves again its process is gone for a moment: that is no end.
      if (move.leaving || isProcessRunning(move.adopted!)) return;
      this.#end(move, { code: 0, signal: null }, done);
    }, MOVED_POLL_MS);
  }

  /** The move failed after the rank's process was saved and ended: the rank is gone (the job aborts). */
  abandon(): void {
    const move = this.#move;
    if (!move?.leaving || !move.dumped) return;
    move.leaving = false;
    this.#end(move, { code: null, signal: 'SIGKILL' }, () => {});
  }

  /**
   * The tool moving the rank is gone before the rank came back (killed, or its output closed
   * under it): nothing will restore it, and it cannot rejoin by itself. The rank ends, and with it
   * the job, saying why; a process of it still there (not saved yet) is killed.
   */
  lose(why: string): void {
    const move = this.#move;
    if (!move?.leaving) return;
    move.leaving = false;
    move.lost = why;
    if (move.dumped) {
      // Moved before, it runs as the pid the launcher adopted: not saved yet this time, it is killed.
      try {
        if (move.adopted !== undefined) process.kill(move.adopted, 'SIGKILL');
      } catch {
        // Saved and ended already (ESRCH).
      }
      this.#end(move, { code: null, signal: 'SIGKILL', lost: why }, () => {});
      return;
    }
    try {
      this.#child.kill('SIGKILL');
    } catch {
      // Gone already: its exit comes.
    }
  }

  #end(move: Move, exit: RankExit, done: () => void): void {
    clearInterval(move.watch);
    move.gone = true;
    // What it wrote last is still in the pipes: read it before they close.
    setTimeout(() => {
      for (const f of move.fifos) f.destroy();
      this.#exit ??= exit;
      this.#resolveExit(this.#exit);
      done();
    }, MOVED_POLL_MS);
  }

  kill(signal: NodeJS.Signals): void {
    // Saved and not restored yet: no process to signal, and the job ending means none will come.
    if (this.#move?.leaving && this.#move.dumped && !isProcessRunning(this.#move.adopted ?? this.#child.pid!)) {
      this.lose(`the job ended (${signal}) while the rank was being moved, before it was restored`);
      return;
    }
    if (!this.alive) return;
    try {
      if (this.#move?.dumped) process.kill(this.#move.adopted ?? this.#child.pid!, signal);
      else this.#child.kill(signal);
    } catch {
      // Already gone between the check and the kill.
    }
  }
}

/** Copies a pipe to a file as it comes; the file is ended by closeFiles once the pipe is done. */
function copyTo(source: Readable, file: Writable): void {
  source.on('data', (chunk: Buffer) => void file.write(chunk));
}

async function closeFiles(files: RankOutputFiles | undefined): Promise<void> {
  if (!files) return;
  const streams = [files.stdout, files.stderr].filter((f) => f !== null);
  streams.forEach((f) => f.end());
  // A full disk must not hang the launcher: the job's result is what counts here.
  await Promise.all(streams.map((f) => streamFinished(f).catch(() => {})));
}
