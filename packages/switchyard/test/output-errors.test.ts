import { spawn } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'switchyard.js');
const home = mkdtempSync(join(tmpdir(), 'sy-output-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The CLI with stdout closed before it writes a byte (`| head` gone), or written to `/dev/full`. */
async function runWith(args: string[], stdout: 'closed-pipe' | 'full'): Promise<{ code: number | null; stderr: string }> {
  const full = stdout === 'full' ? openSync('/dev/full', 'w') : undefined;
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: home,
    env: { ...process.env, HOME: home, XDG_STATE_HOME: home },
    stdio: ['ignore', full ?? 'pipe', 'pipe'],
  });
  if (full !== undefined) closeSync(full);
  else child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr };
}

describe('a CLI whose output cannot be written', () => {
  it.each([[['--help']], [['--version']], [['run', '--help']], [['restore', '--help']], [['info']]])(
    '%j ends with 141 and no stack trace when its reader went away, as SIGPIPE ends a C tool',
    async (args) => {
      const { code, stderr } = await runWith(args, 'closed-pipe');
      expect(code, stderr).toBe(141);
      expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    },
    30_000,
  );

  it.each([[['info']], [['ctl', 'jobs', '--json']], [['--help']]])(
    '%j says in one line that it cannot write its output to a full device, and exits 1',
    async (args) => {
      const { code, stderr } = await runWith(args, 'full');
      expect(code).toBe(1);
      expect(stderr).toMatch(/^switchyard[a-z ]*: cannot write its output: ENOSPC: no space left on device, write\n$/);
    },
    30_000,
  );
});
