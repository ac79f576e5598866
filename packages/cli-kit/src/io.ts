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
