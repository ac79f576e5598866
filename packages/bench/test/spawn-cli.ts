import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The app package's bin, which loads this package's command as an installed bench would be.
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'switchyard', 'bin', 'switchyard.js');

/**
 * Starts the built CLI in a process (group) of its own, as a user would, to interrupt it:
 * `started` resolves once its stderr contains `readyText`, `closed` with its exit code.
 */
export function spawnCli(argv: readonly string[], home: string, readyText: string, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [CLI, ...argv], {
    cwd: home,
    env: { ...env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  // A CLI that ends before it is ready fails the wait with what it said, instead of a timeout.
  const started = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes(readyText)) resolve();
    });
    child.on('close', (code, signal) => {
      reject(new Error(`the CLI ended (${signal ?? code}) before printing '${readyText}'; its stderr:\n${stderr}`));
    });
  });
  started.catch(() => {});
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, started, closed, stderr: () => stderr };
}
