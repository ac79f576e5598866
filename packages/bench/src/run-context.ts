/** What a transport's runner gets from the orchestrator (phases and reports go through the gate). */
export interface RunContext {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Aborting it stops the run: every process it started is ended before the runner returns. */
  readonly signal: AbortSignal;
  /** A line the run's processes (or the launcher) printed. */
  onOutput(line: string): void;
}
