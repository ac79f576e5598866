import { spawn, type ChildProcess } from 'node:child_process';
import { finished as streamFinished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus } from './exit-status.js';
import type { RankOutputFiles } from './output-files.js';
import { forwardLines, type SharedOutput } from './output-forwarding.js';

/** After a rank exits, how long its pipes may stay open (a grandchild holding them) before we cut them. */
const PIPE_DRAIN_MS = 1000;

export interface RankExit extends ExitStatus {
  /** Set when the process could not be started at all. */
  readonly error?: Error;
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
  #exit: RankExit | null = null;
  /** Resolves when the process has ended (or failed to start). */
  readonly exited: Promise<RankExit>;
  /** Resolves once it has ended and its output has been forwarded. */
  readonly finished: Promise<void>;

  constructor(options: RankSpawnOptions) {
    this.rank = options.rank;
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
      child.once('exit', (code, signal) => {
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
    this.finished = forwarded.then(() => closeFiles(files));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#exit === null && this.#child.pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      this.#child.kill(signal);
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
