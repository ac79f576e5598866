import { spawn, spawnSync } from 'node:child_process';
import { nativeAvailable } from '../src/index.js';

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

export interface LauncherOutput {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `mpirun --allow-run-as-root --oversubscribe -np N [-x VAR]... COMMAND...` under `timeout -s KILL`
 * (mpirun can hang at job end) in its own process group, killed whole on our timeout as well.
 */
export function runUnderMpirun(
  np: number,
  command: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<LauncherOutput> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const env = { ...process.env, ...options.env };
  // Exported as a user would on a cluster: on one node mpirun passes its environment anyway.
  const exports = Object.keys(options.env ?? {}).flatMap((name) => ['-x', name]);
  const args = ['-s', 'KILL', String(Math.ceil(timeoutMs / 1000)), 'mpirun', '--allow-run-as-root', '--oversubscribe', '-np', String(np), ...exports, ...command];
  return new Promise((resolve) => {
    const child = spawn('timeout', args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, timeoutMs + 2000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
