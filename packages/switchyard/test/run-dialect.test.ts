import { spawn } from 'node:child_process';
import {
  chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './capture.js';

// Open MPI's mpirun dialect on real jobs: the built CLI in a process of its own, ranks that wire
// up through the real runtime (test/fixtures/dialect-app.mjs), two ranks at a time.
const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', 'bin', 'switchyard.js');
const APP = join(HERE, 'fixtures', 'dialect-app.mjs');
const work = mkdtempSync(join(tmpdir(), 'sy-dialect-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `switchyard run ARGS` as a shell would start it; `input` is written to its stdin, then closed. */
function run(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', ...args], {
      cwd: work,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    if (options.input !== undefined) child.stdin!.end(options.input);
    // A backstop only (no timing is asserted): no launcher or rank may outlive a failed test.
    const backstop = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      reject(new Error(`switchyard run ${args.join(' ')} did not end\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(backstop);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.split('\n').filter(Boolean).sort();

/** Pids of live processes whose command line holds `token`. */
function processesWith(token: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(token);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("switchyard run in mpirun's dialect", () => {
  it('runs -np 2 -mca btl tcp,self, and the -mca setting reaches the ranks', async () => {
    const ok = await run(['-np', '2', '-mca', 'btl', 'tcp,self', APP, 'env']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(lines(ok.stdout)).toEqual(['rank 0/2 sum=3 ', 'rank 1/2 sum=3 ']);
    // The same spelling with a transport that does not exist is a usage error, before any rank starts.
    const bad = await run(['-np', '2', '-mca', 'btl', 'nosuch,self', APP, 'env']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mca btl: btl component 'nosuch' was requested/);
    expect(bad.stdout).toBe('');
  });

  it('exports -x VAR from the launcher and -x VAR=VALUE, and warns about a VAR that is not set', async () => {
    const { code, stdout, stderr } = await run(
      [
        '--np',
        '2',
        '-x',
        'SY_FROM_LAUNCHER',
        '-x',
        'SY_SET=a=b',
        '-x',
        'SY_MISSING',
        APP,
        'env',
        'SY_FROM_LAUNCHER',
        'SY_SET',
        'SY_MISSING',
      ],
      {
        env: { SY_FROM_LAUNCHER: 'here', SY_MISSING: undefined },
      },
    );
    expect(code).toBe(0);
    expect(stderr).toBe('switchyard run: warning: -x SY_MISSING: SY_MISSING is not set here, so the ranks do not get it\n');
    expect(lines(stdout)).toEqual([0, 1].map((r) => `rank ${r}/2 sum=3 SY_FROM_LAUNCHER=here SY_SET=a=b SY_MISSING=(unset)`));
  });

  it('ends a hanging job at --timeout with exit code 110 and mpirun\'s notice, leaving no rank', async () => {
    const token = randomUUID();
    const { code, stderr } = await run(['-np', '2', '--timeout', '3', APP, 'hang', token]);
    expect(code).toBe(110);
    expect(stderr).toContain('The user-provided time limit for job execution has been reached:\n\n  Timeout: 3 seconds\n');
    expect(stderr).toContain('switchyard run: the job ran into its time limit of 3 s (--timeout); aborting the job');
    expect(processesWith(token)).toEqual([]);
  });

  it('takes the time limit from MPIEXEC_TIMEOUT as mpirun does, and names it when it runs out', async () => {
    const { code, stderr } = await run(['-np', '2', APP, 'hang'], { env: { MPIEXEC_TIMEOUT: '3' } });
    expect(code).toBe(110);
    expect(stderr).toContain('Timeout: 3 seconds');
    expect(stderr).toContain('switchyard run: the job ran into its time limit of 3 s (MPIEXEC_TIMEOUT); aborting the job');
  });

  it('writes each rank\'s output to DIR/1/rank.N/stdout and stderr with --output-filename, and still shows it', async () => {
    const dir = join(work, 'out');
    const { code, stdout, stderr } = await run(['-np', '2', '--output-filename', 'out', APP, 'streams']);
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual(['out of 0', 'out of 1']);
    expect(lines(stderr)).toEqual(['err of 0', 'err of 1']);
    expect(readdirSync(join(dir, '1')).sort()).toEqual(['rank.0', 'rank.1']);
    for (const rank of [0, 1]) {
      expect(readFileSync(join(dir, '1', `rank.${rank}`, 'stdout'), 'utf8')).toBe(`out of ${rank}\n`);
      expect(readFileSync(join(dir, '1', `rank.${rank}`, 'stderr'), 'utf8')).toBe(`err of ${rank}\n`);
    }
  });

  it('sends the ranks\' stderr to stdout with --merge-stderr-to-stdout, in the files too', async () => {
    const dir = join(work, 'merged');
    // A folder an earlier run without the option wrote: its stderr files must not pass for this run's.
    expect((await run(['-np', '2', '--output-filename', dir, APP, 'streams'])).code).toBe(0);
    const { code, stdout, stderr } = await run([
      '-np',
      '2',
      '--merge-stderr-to-stdout',
      '--output-filename',
      dir,
      '--tag-output',
      APP,
      'streams',
    ]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(lines(stdout)).toEqual(['[0] err of 0', '[0] out of 0', '[1] err of 1', '[1] out of 1']);
    for (const rank of [0, 1]) {
      expect(lines(readFileSync(join(dir, '1', `rank.${rank}`, 'stdout'), 'utf8'))).toEqual([`err of ${rank}`, `out of ${rank}`]);
      expect(existsSync(join(dir, '1', `rank.${rank}`, 'stderr'))).toBe(false);
    }
  });

  it('refuses an --output-filename folder that cannot be made under /proc, at once, starting no rank', async () => {
    // Node's own recursive mkdir never returns there.
    const { code, stderr } = await run(['-np', '1', '--output-filename', '/proc/switchyard-nope', APP, 'streams']);
    expect(code).toBe(1);
    expect(stderr).toContain("switchyard run: cannot write rank 0's output to /proc/switchyard-nope/1/rank.0/stdout: ENOENT");
  });

  it.skipIf(process.getuid?.() !== 0)('writes through no link another user planted in the output folder, nor into theirs', async () => {
    const victim = join(work, 'victim.txt');
    writeFileSync(victim, 'precious');
    // Another user's link where rank 0's stdout goes, in a folder of theirs inside the output folder.
    const out = join(work, 'planted-out');
    mkdirSync(join(out, '1', 'rank.0'), { recursive: true });
    symlinkSync(victim, join(out, '1', 'rank.0', 'stdout'));
    lchownSync(join(out, '1', 'rank.0', 'stdout'), 65534, 65534);
    const linked = await run(['-np', '1', '--output-filename', out, APP, 'streams']);
    expect(linked.code).toBe(1);
    expect(linked.stderr).toMatch(/stdout is a symbolic link of uid 65534; refusing to follow it/);
    for (const level of ['1', join('1', 'rank.0')]) chownSync(join(out, level), 65534, 65534);
    const theirs = await run(['-np', '1', '--output-filename', out, APP, 'streams']);
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).toMatch(/planted-out\/1 belongs to uid 65534, not to this user or root; refusing to write there/);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    // Refused for rank 1's folder, the run leaves rank 0's earlier output as it was.
    const earlier = join(work, 'earlier-out');
    mkdirSync(join(earlier, '1', 'rank.0'), { recursive: true });
    writeFileSync(join(earlier, '1', 'rank.0', 'stdout'), 'previous run');
    mkdirSync(join(earlier, '1', 'rank.1'));
    chownSync(join(earlier, '1', 'rank.1'), 65534, 65534);
    expect((await run(['-np', '2', '--output-filename', earlier, APP, 'streams'])).code).toBe(1);
    expect(readFileSync(join(earlier, '1', 'rank.0', 'stdout'), 'utf8')).toBe('previous run');
  });

  it('forwards its standard input to rank 0; the other ranks read /dev/null', async () => {
    const { code, stdout } = await run(['-np', '2', '--oversubscribe', APP, 'stdin'], { input: 'first line\nsecond line\n' });
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual([`rank 0 read ${JSON.stringify('first line\nsecond line\n')}`, 'rank 1 read ""']);
  });
});

describe('switchyard run usage errors', () => {
  const script = join(work, 'never.mjs');
  writeFileSync(script, "throw new Error('a usage error must start nothing');\n");
  writeFileSync(join(work, 'a-file'), '');

  it.each([
    [['-np', 'x', 'never.mjs'], "-n takes a positive integer, got 'x'"],
    [['-np', '2', '--timeout', '0', 'never.mjs'], "--timeout takes a positive whole number of seconds, got '0'"],
    [['-np', '2', '--timeout', '1.5', 'never.mjs'], "--timeout takes a positive whole number of seconds, got '1.5'"],
    [['-np', '2', '-x', '1BAD', 'never.mjs'], "-x takes VAR or VAR=VALUE with VAR an environment variable name, got '1BAD'"],
    [['-np', '2', '--output-filename', 'a-file', 'never.mjs'], `--output-filename: ${join(work, 'a-file')} exists and is not a folder`],
    [['-np', '2', '-mca', 'btl'], "option '-mca' needs two values: -mca KEY VALUE"],
    [['-np', '2', '--map-by', 'core', 'never.mjs'], "unknown option '--map-by'"],
    [['-np', '2', '--bind-to', 'sideways', 'never.mjs'], "--bind-to takes core or none, got 'sideways'"],
    [
      ['-np', '2', '--output-filename', 'not-made', '--timeout', 'soon', 'never.mjs'],
      "--timeout takes a positive whole number of seconds, got 'soon'",
    ],
  ])('%j exits 2 naming what was wrong, and starts and creates nothing', async (argv, message) => {
    const { code, stdout, stderr } = await cli(['run', ...argv], { cwd: work });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`switchyard run: ${message}\nRun 'switchyard run --help' for usage.\n`);
    expect(existsSync(join(work, 'not-made'))).toBe(false);
  });

  it('exits 1 naming the file when an output file cannot be made, before any rank starts', async () => {
    const dir = join(work, 'blocked');
    mkdirSync(dir);
    writeFileSync(join(dir, '1'), 'a file where the job folder would go');
    const { code, stdout, stderr } = await cli(['run', '-np', '2', '--output-filename', dir, 'never.mjs'], { cwd: work });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^switchyard run: cannot write rank 0's output to ${join(dir, '1', 'rank.0', 'stdout')}: .*\\n$`));
  });

  it('names MPIEXEC_TIMEOUT when that is what is wrong', async () => {
    const { code, stderr } = await cli(['run', '-np', '2', 'never.mjs'], { cwd: work, env: { HOME: work, MPIEXEC_TIMEOUT: 'later' } });
    expect(code).toBe(2);
    expect(stderr).toContain("MPIEXEC_TIMEOUT takes a positive whole number of seconds, got 'later'");
  });

  // What the launcher may use, as the kernel says (a CPU list such as 0-1).
  const allowed = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  const cores = allowed.split(',').flatMap((part) => {
    const [a, b = a] = part.split('-').map(Number);
    return Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
  });

  it.skipIf(cores.length < 2)('binds 2 ranks to a core each by default, as mpirun does, and says so with --report-bindings', async () => {
    const bound = await run(['-np', '2', '--report-bindings', APP, 'cpus', 'bound']);
    expect(bound.code).toBe(0);
    expect(lines(bound.stdout)).toEqual([`rank 0 cpus ${cores[0]}`, `rank 1 cpus ${cores[1]}`]);
    expect(bound.stderr).toMatch(new RegExp(`switchyard run: rank 0 \\(pid \\d+\\) bound to core ${cores[0]}: \\[B/\\.`));
    expect(bound.stderr).toMatch(new RegExp(`switchyard run: rank 1 \\(pid \\d+\\) bound to core ${cores[1]}: \\[\\./B`));
    // --bind-to none leaves them every core.
    const free = await run(['-np', '2', '--bind-to', 'none', APP, 'cpus']);
    expect(free.code).toBe(0);
    expect(lines(free.stdout)).toEqual([`rank 0 cpus ${allowed}`, `rank 1 cpus ${allowed}`]);
  });

  it('refuses --bind-to core with more ranks than cores, starting nothing', async () => {
    const token = randomUUID();
    const many = await run(['-np', String(cores.length + 1), '--bind-to', 'core', APP, 'env', token]);
    expect(many.code).toBe(1);
    expect(many.stderr).toContain(`--bind-to core: ${cores.length + 1} ranks and ${cores.length} cores to bind them to`);
    expect(many.stdout).toBe('');
    expect(processesWith(token)).toEqual([]);
  });

  it('documents the options, the output files and the exit codes in --help', async () => {
    const { code, stdout } = await cli(['run', '--help'], { cwd: work });
    expect(code).toBe(0);
    for (const text of [
      '-n, -np, --np N',
      '--mca, -mca KEY VALUE',
      '-x VAR | -x VAR=VALUE',
      '--timeout SECONDS',
      '--merge-stderr-to-stdout',
      '--oversubscribe',
      '--bind-to core|none',
      '--report-bindings',
    ]) {
      expect(stdout).toContain(text);
    }
    expect(stdout).toContain('DIR/1/rank.N/stdout');
    expect(stdout).toMatch(/Exit codes:[\s\S]*\n {2}2 +usage error[\s\S]*\n {2}110 +--timeout/);
  });
});
