import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { lineSink } from './lines.js';
import type { RunContext } from './run-context.js';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A process a runner started, its output passed on line by line. */
export interface LoggedChild {
  readonly child: ChildProcess;
  /** Settles when the process is gone and its output read; code null and no signal: it never started. */
  readonly exited: Promise<ChildExit>;
  /** Its stderr lines so far, to say why it failed. */
  readonly stderr: string[];
}

/** Starts `command` with stdout and stderr piped, each line handed to `ctx.onOutput`. */
export function spawnLogged(command: string, args: readonly string[], options: SpawnOptions, ctx: RunContext): LoggedChild {
  const child = spawn(command, args, options);
  const stderr: string[] = [];
  const exited = new Promise<ChildExit>((resolve) => {
    // 'close', not 'exit': its last lines of output are read by then.
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => child.pid === undefined && resolve({ code: null, signal: null }));
  });
  child.stdout!.pipe(lineSink((line) => ctx.onOutput(line)));
  child.stderr!.pipe(
    lineSink((line) => {
      stderr.push(line);
      ctx.onOutput(line);
    }),
  );
  return { child, exited, stderr };
}
