/** Where a command writes, so tests can capture it and the CLI can use the process streams. */
export interface CommandIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** What `switchyard run` forwards to rank 0; absent: rank 0 reads /dev/null. */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A verb of the `switchyard` CLI: resolves to the process exit code. */
export type Command = (argv: string[], io: CommandIO) => Promise<number>;

export function processIO(): CommandIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // A getter: touching process.stdin opens it, which only `run` should do.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/** What a command ended by a reader that went away exits with: 128 + SIGPIPE, as a C tool. */
export const SIGPIPE_EXIT_CODE = 141;

/**
 * For a command with nothing to take down first: a reader of its output that went away
 * (`| head`) ends it quietly with 141; any other write error (a full disk, `>/dev/full`) is one
 * line on stderr and exit 1, not an uncaught error's stack.
 */
export function endOnOutputError(stream: NodeJS.WritableStream, verb: string): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(SIGPIPE_EXIT_CODE);
    try {
      process.stderr.write(`${verb}: cannot write its output: ${err.message}\n`);
    } catch {
      // stderr is the stream that failed: the exit code says it.
    }
    process.exit(1);
  });
}
