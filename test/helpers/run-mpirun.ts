import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeAvailable } from '@switchyard/pmix';
import type { JobOutput } from './run-job.js';

/**
 * Why PMIx tests cannot run here (no mpirun, or the addon was not built), or undefined. Without
 * these the tests are skipped with the reason printed; under CI (which installs them) that is a
 * failure instead.
 */
export function pmixSkipReason(): string | undefined {
  const missing: string[] = [];
  if (spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).error) missing.push('mpirun is not installed (Debian: openmpi-bin)');
  if (!nativeAvailable()) missing.push('the @switchyard/pmix addon is not built (Debian: libpmix-dev, then npm rebuild @switchyard/pmix)');
  if (missing.length === 0) return undefined;
  const reason = missing.join('; ');
  if (process.env.CI) throw new Error(`PMIx tests must run under CI, but ${reason}`);
  console.warn(`skipping PMIx tests: ${reason}`);
  return reason;
}

export interface MpirunOptions {
  readonly cwd?: string;
  /** Added to this process's environment and exported to the ranks with `-x`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/**
 * Starts `mpirun --allow-run-as-root --oversubscribe -np N [-x VAR]... COMMAND...` under
 * `timeout -s KILL` (mpirun can hang at job end), in its own process group so a test can kill it
 * whole.
 */
export function spawnMpirun(np: number, command: readonly string[], options: MpirunOptions = {}): ChildProcess {
  const seconds = Math.ceil((options.timeoutMs ?? 60_000) / 1000);
  // Exported as a user would on a cluster: on one node mpirun passes its environment anyway.
  const exports = Object.keys(options.env ?? {}).flatMap((name) => ['-x', name]);
  const args = [
    '-s',
    'KILL',
    String(seconds),
    'mpirun',
    '--allow-run-as-root',
    '--oversubscribe',
    '-np',
    String(np),
    ...exports,
    ...command,
  ];
  // Open MPI's session folder (ompi.HOST.UID/pid.N) in a folder of this job's, removed with it:
  // a killed mpirun leaves its own behind in /tmp.
  const session = mkdtempSync(join(tmpdir(), 'sy-mpirun-'));
  const child = spawn('timeout', args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, ...mpirunSessionEnv(session) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.on('close', () => rmSync(session, { recursive: true, force: true }));
  return child;
}

/** Where Open MPI 4 (ORTE) and 5 (PRRTE) keep their session folders. */
export function mpirunSessionEnv(dir: string): NodeJS.ProcessEnv {
  return { OMPI_MCA_orte_tmpdir_base: dir, PRTE_MCA_prte_tmpdir_base: dir };
}

/** Kills a spawnMpirun() job's whole process group (cleanup after a failed test). */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {}
}

/** Runs a job under mpirun to its end (see spawnMpirun). */
export function runUnderMpirun(np: number, command: readonly string[], options: MpirunOptions = {}): Promise<JobOutput> {
  return new Promise((resolve) => {
    const child = spawnMpirun(np, command, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => killGroup(child), (options.timeoutMs ?? 60_000) + 2000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
