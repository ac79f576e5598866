import { constants } from 'node:os';

/** How a process ended, as `child_process` reports it (exactly one of the two is set). */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** "exited with code 3" / "was killed by signal SIGKILL", for messages that name a rank. */
export function describeExit({ code, signal }: ExitStatus): string {
  if (signal) return `was killed by signal ${signal}`;
  return `exited with code ${code ?? 'unknown'}`;
}

/** The shell convention: the code itself, or 128 + the signal's number. */
export function exitCodeOf({ code, signal }: ExitStatus): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 1;
}

export function isCleanExit(status: ExitStatus): boolean {
  return status.signal === null && status.code === 0;
}
