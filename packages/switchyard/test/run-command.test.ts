import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Plain scripts (no wire-up), so these tests need no build of the runtime.
writeFileSync(
  join(dir, 'echo.mjs'),
  `const e = process.env;
const args = JSON.stringify(process.argv.slice(2));
console.log(\`rank \${e.SWITCHYARD_RANK}/\${e.SWITCHYARD_SIZE} mca=\${e.SWITCHYARD_MCA_CLI} args=\${args}\`);
`,
);
writeFileSync(join(dir, 'fail.mjs'), `process.exitCode = process.env.SWITCHYARD_RANK === '1' ? 7 : 0;\n`);

describe('switchyard run', () => {
  it('prints usage with --help', async () => {
    const { code, stdout } = await cli(['run', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: switchyard run -n N \[--mca KEY VALUE\]\.\.\. \[--tag-output\] \[OPTIONS\] SCRIPT \[ARGS\.\.\.\]/);
  });

  it.each([
    [['echo.mjs'], 'missing -n N'],
    [['-n', '0', 'echo.mjs'], "-n takes a positive integer, got '0'"],
    [['-n', 'two', 'echo.mjs'], "-n takes a positive integer, got 'two'"],
    [['--np', '1.5', 'echo.mjs'], "-n takes a positive integer, got '1.5'"],
    [['-n', '2'], 'missing SCRIPT'],
    [['-n', '2', '--mca', 'btl'], "option '--mca' needs two values"],
    [['-n', '2', '--bogus', 'echo.mjs'], "unknown option '--bogus'"],
    // A value Switchyard's own parameters refuse: found before any rank starts.
    [['-n', '2', '--mca', 'pml_failover', 'maybe', 'echo.mjs'], "MCA parameter 'pml_failover' (type boolean) from command line"],
    [['-n', '2', '--mca', 'btl_tcp_eager_limit', 'x', 'echo.mjs'], "MCA parameter 'btl_tcp_eager_limit' (type size) from command line"],
  ])('refuses %j with a usage error', async (argv, message) => {
    const { code, stderr } = await cli(['run', ...argv], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toContain(`switchyard run: ${message}`);
    expect(stderr).toContain("Run 'switchyard run --help' for usage.");
  });

  it('names a script that does not exist', async () => {
    const { code, stderr } = await cli(['run', '-n', '2', 'missing.mjs'], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toContain(`switchyard run: script not found: ${join(dir, 'missing.mjs')}`);
  });

  it('says that it starts Node itself when given `node SCRIPT`, as mpirun is', async () => {
    const { code, stderr } = await cli(['run', '-np', '2', 'node', 'echo.mjs', 'x'], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toContain(`switchyard run: script not found: ${join(dir, 'node')}; switchyard run starts Node itself: name the script`);
    expect(stderr).toContain('(switchyard run -n 2 echo.mjs x)');
  });

  it('refuses more ranks than the memory of the machine can hold, starting none', async () => {
    const { code, stdout, stderr } = await cli(['run', '-n', '1000000', 'echo.mjs'], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^switchyard run: 1000000 ranks need at least \d+ GiB of memory .* this machine has \d+ GiB: check -n\n$/);
    expect(stdout).toBe('');
  });

  it('launches N ranks with the --mca pairs, tags output and hands later arguments to the script', async () => {
    const { code, stdout, stderr } = await cli(['run', '-n', '2', '--mca', 'btl', 'self', '--tag-output', 'echo.mjs', '--mca', 'x', 'y'], {
      cwd: dir,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const args = JSON.stringify(['--mca', 'x', 'y']);
    expect(stdout.split('\n').sort()).toEqual([
      '',
      `[0] rank 0/2 mca=[["btl","self"]] args=${args}`,
      `[1] rank 1/2 mca=[["btl","self"]] args=${args}`,
    ]);
  }, 15_000);

  it("exits with a failing rank's code", async () => {
    const { code, stderr } = await cli(['run', '-n', '2', 'fail.mjs'], { cwd: dir });
    expect(code).toBe(7);
    expect(stderr).toMatch(/switchyard run: rank 1 \(pid \d+\) exited with code 7; aborting the job/);
  }, 15_000);
});
