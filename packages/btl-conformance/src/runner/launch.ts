import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { SCRATCH_ENV } from '../protocol.js';
import { kitTempDir } from './kit-temp.js';

export interface ProcessOutput {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because it outlived its time. */
  readonly timedOut: boolean;
}

/** A process the kit started in its own group, so stopping it takes its ranks with it. */
export interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessOutput>;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  kill(): void;
}

export function start(file: string, args: readonly string[], options: { cwd?: string; timeoutMs: number; scratch?: string }): Started {
  const env = options.scratch ? { ...process.env, [SCRATCH_ENV]: options.scratch } : process.env;
  const child = spawn(process.execPath, [file, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const exited = new Promise<ProcessOutput>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (options.scratch) rmSync(options.scratch, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, timedOut });
    }),
  );
  return { child, exited, kill, output: () => ({ stdout, stderr }) };
}

/** The last lines of a process's stderr, for a failure message. */
export function tail(text: string, lines = 8): string {
  const all = text.trim().split('\n').filter(Boolean);
  // A stack's frames would crowd out the error above them: each keeps its first frame (where it was thrown) only.
  const frame = /^\s+at /;
  const kept = all.filter((line, i) => !frame.test(line) || !frame.test(all[i - 1] ?? ''));
  return kept.slice(-lines).join(' | ') || '(nothing)';
}

/** A fresh private folder for one job's scratch files (see SCRATCH_ENV). */
export function scratchDir(): string {
  return kitTempDir('job');
}
