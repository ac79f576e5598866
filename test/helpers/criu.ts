import { spawn, type ChildProcess } from 'node:child_process';
import { probeCriu } from '@switchyard/control';
import { CLI, ROOT } from './run-job.js';

/**
 * Why jobs cannot be saved with CRIU here, or undefined: CRIU runs as root and must be 4.2 or
 * newer with `criu check` passing (`scripts/get-criu.sh`). Where CI is set it must work.
 */
export function criuSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (process.getuid?.() !== 0) return 'CRIU needs root';
  return probeCriu().problem?.reason;
}

/** A process started by a test, with everything it printed, until its output closes. */
export interface Watched {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once every holder of its stdout and stderr closed them (a restored job included). */
  readonly closed: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `node switchyard ARGS` from the repository root, in its own session (as under setsid). */
export function watch(args: string[], detached = true, env: NodeJS.ProcessEnv = process.env): Watched {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached, env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const closed = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, closed };
}

/** Waits until `test` holds for the output so far, failing with the output after `timeoutMs`. */
export async function waitFor(w: Watched, test: (stdout: string) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test(w.stdout())) {
    if (w.child.exitCode !== null || Date.now() > deadline) throw new Error(`not seen in time:\n${w.stdout()}\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The id from the line `job ID: ...` that rank 0 of the Jacobi example prints. */
export function jacobiJobId(stdout: string): string {
  const id = /^job (\S+):/m.exec(stdout)?.[1];
  if (!id) throw new Error(`no job line in:\n${stdout}`);
  return id;
}

/** Kills what a test left running: the process groups (as the launcher's session) of these pids. */
export function killGroups(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
}
