import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUILT = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'ctl', 'stop-signals.js');

// A command holding its stop signals (a checkpoint save, a move) while its output's reader goes
// away: the CLI's own listener ends a command on EPIPE as SIGPIPE would; held, it must not.
const SCRIPT = `
const { holdStopSignals } = await import(${JSON.stringify(BUILT)});
process.stdout.on('error', () => process.exit(141));
const release = holdStopSignals(() => {});
for (let i = 0; i < 50; i++) {
  process.stdout.write('line ' + i + '\\n');
  await new Promise((r) => setTimeout(r, 5));
}
release();
process.stdout.write('after the hold\\n');
process.stderr.write('finished\\n');
`;

describe('holdStopSignals', () => {
  it('lets the command finish when the reader of its output goes away meanwhile', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader reads one chunk, then goes (as `| head -1` does).
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toContain('finished');
    expect(code).toBe(0);
  });
});
