import {
  accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath, prepareOmpi } from '../src/ompi-program.js';
import { parseBenchArgs } from '../src/options.js';
import { lastNotice } from '../src/mpirun-notice.js';
import { ompiMpirunArgs, runUnderMpirun } from '../src/run-ompi.js';
import { childrenOf, isAlive } from '@switchyard/cli-kit';
import { cli } from './capture.js';
import { spawnCli } from './spawn-cli.js';

// The Open MPI baseline of `switchyard bench --ompi`: our mpi_pingpong.c really compiles with
// mpicc and runs under mpirun beside the other transports. No number is held to a speed.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-ompi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, HOME: dir };

/** Why the Open MPI runs cannot be tested here, or undefined; under CI (which installs Open MPI) a failure. */
function ompiSkipReason(): string | undefined {
  const missing = ['mpicc', 'mpirun'].filter((tool) => !findOnPath(tool, process.env));
  if (!missing.length) return undefined;
  const reason = `${missing.join(' and ')} not on PATH (Debian: openmpi-bin libopenmpi-dev)`;
  if (process.env.CI) throw new Error(`the Open MPI bench tests must run under CI, but ${reason}`);
  console.warn(`skipping the Open MPI bench runs: ${reason}`);
  return reason;
}
const skipReason = ompiSkipReason();

/** Live (not zombie) processes below `pid`, however deep. */
function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (let queue = [pid]; queue.length; ) {
    const children = childrenOf(queue.shift()!);
    out.push(...children);
    queue.push(...children);
  }
  return out;
}

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

describe('bench --ompi options', () => {
  it('measures nothing of Open MPI unless asked; --ompi means tcp and vader; --ompi-btl picks', () => {
    expect(parseBenchArgs([]).ompi).toEqual([]);
    expect(parseBenchArgs(['--ompi']).ompi).toEqual(['tcp', 'vader']);
    expect(parseBenchArgs(['--ompi-btl', 'vader']).ompi).toEqual(['vader']);
    expect(parseBenchArgs(['--ompi', '--ompi-btl', 'tcp,tcp']).ompi).toEqual(['tcp']);
  });

  it('names what is wrong with a bad --ompi or --ompi-btl', async () => {
    expect(() => parseBenchArgs(['--ompi-btl', 'openib'])).toThrow(
      "--ompi-btl takes tcp and/or vader, comma-separated (Open MPI's loopback TCP and shared-memory BTLs), got 'openib' in 'openib'",
    );
    expect(() => parseBenchArgs(['--ompi-btl', 'tcp,self'])).toThrow(
      '--ompi-btl: self is added to every Open MPI run; name tcp and/or vader',
    );
    expect(() => parseBenchArgs(['--ompi-btl'])).toThrow("option '--ompi-btl' needs a value");
    const { code, stdout, stderr } = await cli(['bench', '--ompi=yes'], { cwd: dir, env });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("switchyard bench: option '--ompi' takes no value");
  });

  it("gives mpirun the bench's --bind-to, and nothing when the bench has none (mpirun's default is the bench's)", () => {
    expect(ompiMpirunArgs('tcp', 'none').slice(-2)).toEqual(['--bind-to', 'none']);
    expect(ompiMpirunArgs('vader', 'core').slice(-2)).toEqual(['--bind-to', 'core']);
    expect(ompiMpirunArgs('tcp')).not.toContain('--bind-to');
  });

  it('documents --ompi and --ompi-btl in --help', async () => {
    const { code, stdout } = await cli(['bench', '--help'], { cwd: dir, env });
    expect(code).toBe(0);
    expect(stdout).toContain('[--ompi] [--ompi-btl LIST]');
    expect(stdout).toMatch(/--ompi {15}add Open MPI as a second baseline/);
    expect(stdout).toContain('Debian: openmpi-bin');
  });

  it("quotes mpirun's last notice whole when an Open MPI run fails", () => {
    const stderr = [
      '--------------------------------------------------------------------------',
      'Primary job  terminated normally, but 1 process returned',
      'a non-zero exit code. Per user-direction, the job has been aborted.',
      '--------------------------------------------------------------------------',
      '--------------------------------------------------------------------------',
      'mpirun detected that one or more processes exited with non-zero status, thus causing',
      'the job to be terminated. The first process to do so was:',
      '',
      '  Process name: [[13707,1],1]',
      '  Exit code:    195',
      '--------------------------------------------------------------------------',
    ];
    expect(lastNotice(stderr)).toBe(
      'mpirun detected that one or more processes exited with non-zero status, thus causing the job to be terminated. ' +
        'The first process to do so was: Process name: [[13707,1],1] Exit code: 195',
    );
    expect(lastNotice(['', 'one', 'two', 'three', 'four'])).toBe('two three four');
  });

  it('ends an mpirun that said it aborts its job but does not exit (Open MPI 4 was seen to hang there), naming it', async () => {
    // A stand-in for such an mpirun: the notice a rank's failure makes it print, then no exit.
    const fake = join(dir, 'hung-mpirun.sh');
    writeFileSync(
      fake,
      '#!/bin/sh\necho "Primary job  terminated normally, but 1 process returned" >&2\n' +
        'echo "a non-zero exit code. Per user-direction, the job has been aborted." >&2\nexec sleep 600\n',
      { mode: 0o755 },
    );
    const lines: string[] = [];
    const ctx = { cwd: dir, env: process.env, signal: new AbortController().signal, onOutput: (l: string) => lines.push(l) };
    const run = runUnderMpirun(fake, [], 'the ompi-vader run', 'mpi_pingpong', ctx);
    await expect(run).rejects.toThrow(
      /^the ompi-vader run aborted its job and did not exit within 5 s \(ended\): .*the job has been aborted/,
    );
    expect(lines).toContain('a non-zero exit code. Per user-direction, the job has been aborted.');
  }, 30_000);

  it('says which Open MPI tool is missing from PATH and which packages provide it, before starting anything', async () => {
    const empty = join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const none = await cli(['bench', '--ompi', '--iterations-scale', '0.01'], { cwd: dir, env: { ...env, PATH: empty } });
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(
      `switchyard bench: --ompi needs Open MPI's mpicc and mpirun on PATH, not found (PATH=${empty}); on Debian or Ubuntu: apt-get ` +
        `install openmpi-bin libopenmpi-dev`,
    );
    expect(none.stderr).not.toContain('starting');

    // Only mpirun there (a link to any executable will do: nothing is run).
    const onlyMpirun = join(dir, 'only-mpirun');
    mkdirSync(onlyMpirun, { recursive: true });
    if (!existsSync(join(onlyMpirun, 'mpirun'))) symlinkSync(process.execPath, join(onlyMpirun, 'mpirun'));
    const one = await cli(['bench', '--ompi-btl', 'tcp', '--iterations-scale', '0.01'], { cwd: dir, env: { ...env, PATH: onlyMpirun } });
    expect(one.code).toBe(1);
    expect(one.stderr).toContain("--ompi needs Open MPI's mpicc on PATH, not found");
  });
});

describe.skipIf(skipReason !== undefined)('bench --ompi runs', () => {
  it('compiles mpi_pingpong.c with mpicc into a private folder and removes it after', async () => {
    const ompi = await prepareOmpi(process.env, new AbortController().signal);
    try {
      expect(ompi.mpirun).toBe(findOnPath('mpirun', process.env));
      accessSync(ompi.program, constants.X_OK);
      expect(statSync(dirname(ompi.program)).mode & 0o777).toBe(0o700);
    } finally {
      ompi.dispose();
    }
    expect(existsSync(dirname(ompi.program))).toBe(false);
  }, 60_000);

  it('measures ompi-tcp and ompi-vader beside switchyard-tcp and raw in one run, in the JSON with tcp/ompi ratios', async () => {
    const { code, stdout, stderr } = await cli(['bench', '--sizes', '0,4k', '--iterations-scale', '0.01', '--ompi', '--json'], {
      cwd: dir,
      env,
    });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as {
      settings: { ompi: Record<string, string> | null };
      runs: Array<{
        transport: string;
        mode: string;
        latency: Array<{ size: number; usec: number }>;
        bandwidth: Array<{ size: number; mbps: number }>;
        cores: unknown;
      }>;
      comparisons: Array<{
        benchmark: string;
        transport: string;
        baseline: string;
        size: number;
        ratio: number;
        target: unknown;
        pass: unknown;
      }>;
    };
    expect(doc.runs.map((r) => `${r.transport}/${r.mode}`).sort()).toEqual([
      'ompi-tcp/sleep',
      'ompi-vader/sleep',
      'raw-node-tcp/sleep',
      'switchyard-tcp/sleep',
    ]);
    for (const run of doc.runs) {
      expect(run.latency.map((p) => p.size)).toEqual([0, 4096]);
      expect(run.bandwidth.map((p) => p.size)).toEqual([4096]);
      for (const v of [...run.latency.map((p) => p.usec), ...run.bandwidth.map((p) => p.mbps)]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
    }
    expect(doc.settings.ompi?.tcp).toMatch(/mpirun .*--oversubscribe -np 2 --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo mpi_pingpong$/);
    // mpirun's default placement is the bench's: Open MPI's ranks say where they ran as the others do.
    const placements = doc.runs.map((r) => JSON.stringify(r.cores));
    expect(new Set(placements).size, placements.join(' ')).toBe(1);
    expect(doc.runs[0]!.cores).not.toBeNull();
    expect(doc.settings.ompi?.vader).toMatch(/--mca btl vader,self mpi_pingpong$/);
    // Against Open MPI's tcp BTL: a ratio per size, never a target.
    const vsOmpi = doc.comparisons.filter((c) => c.baseline === 'ompi-tcp');
    expect(vsOmpi.map((c) => `${c.benchmark} ${c.size}`)).toEqual(['latency 0', 'latency 4096', 'bandwidth 4096']);
    for (const c of vsOmpi) expect(c).toMatchObject({ transport: 'switchyard-tcp', target: null, pass: null });
    // The targets stay against raw Node TCP; Open MPI's runs are not compared as if they were Switchyard's.
    expect(doc.comparisons.filter((c) => c.baseline === 'raw-node-tcp').every((c) => c.transport === 'switchyard-tcp')).toBe(true);
    expect(stderr).toContain('sleep: starting switchyard-tcp, raw-node-tcp, ompi-tcp, ompi-vader');
  }, 60_000);

  it('prints ompi columns and the tcp/ompi ratio in the tables, with the mpirun command', async () => {
    const { code, stdout, stderr } = await cli(['bench', 'latency', '--sizes', '8', '--iterations-scale', '0.01', '--ompi-btl', 'tcp'], {
      cwd: dir,
      env,
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/ompi-tcp: mpirun .*--mca btl tcp,self --mca btl_tcp_if_include lo mpi_pingpong\n/);
    expect(stdout).toMatch(/size\s+switchyard-tcp\s+raw Node TCP\s+ompi-tcp\s+tcp\/raw\s+tcp\/ompi\s+target/);
    expect(stdout).toMatch(/\n\s+8\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+[\d.]+x\s+(PASS|MISS)\n/);
    expect(stdout).not.toContain('ompi-vader');
  }, 60_000);

  it('goes on without an Open MPI baseline whose rank dies mid-run, and says which and why', async () => {
    // Open MPI's mpirun for the vader run, with one of its ranks killed once the bench measures.
    const bin = join(dir, 'fault-bin');
    mkdirSync(bin);
    const real = findOnPath('mpirun', process.env)!;
    const measuring = join(dir, 'measuring');
    writeFileSync(
      join(bin, 'mpirun'),
      `#!/bin/sh\ncase "$*" in *vader*) ;; *) exec "${real}" "$@" ;; esac\n"${real}" "$@" &\npid=$!\n` +
        `while [ ! -e "${measuring}" ]; do sleep 0.05; done\nkill -KILL $(pgrep -P $pid | head -n 1)\nwait $pid\n`,
      { mode: 0o755 },
    );
    const { child, started, closed, stderr } = spawnCli(
      ['bench', 'latency', '--sizes', '0,8,64', '--iterations-scale', '0.2', '--ompi', '--json'],
      dir,
      'sleep latency 0 (1 of 3)',
      { ...env, PATH: `${bin}:${process.env.PATH}` },
    );
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    await started;
    writeFileSync(measuring, '');
    expect(await closed, stderr()).toBe(0);
    expect(stderr()).toMatch(/switchyard bench: ompi-vader \(sleep\) failed; the run goes on without it: the ompi-vader run/);
    type Run = { transport: string; latency: Array<{ size: number }>; failed: string | null };
    const runs = (JSON.parse(stdout) as { runs: Run[] }).runs;
    const vader = runs.find((r) => r.transport === 'ompi-vader')!;
    expect(vader.failed).toMatch(/^the ompi-vader run \(mpirun .*\) (exited with code|was killed by|aborted its job)/);
    expect(vader.latency.length).toBeLessThan(3);
    for (const r of runs.filter((x) => x.transport !== 'ompi-vader')) {
      expect(r.failed).toBeNull();
      expect(r.latency.map((p) => p.size)).toEqual([0, 8, 64]);
    }
  }, 120_000);

  it('ends mpirun and every rank it started when interrupted, leaving no Open MPI session folder', async () => {
    // Where Open MPI would put its session folders (ompi.HOST.UID/pid.N): a killed mpirun leaves its own.
    const temp = join(dir, 'tmp');
    mkdirSync(temp);
    // Long enough to be interrupted mid-measurement.
    const { child, started, closed, stderr } = spawnCli(
      ['bench', 'latency', '--sizes', '0', '--iterations-scale', '50', '--ompi'],
      dir,
      'sleep latency 0 (1 of 1)',
      { ...process.env, TMPDIR: temp },
    );
    let processes: number[] = [];
    try {
      await started;
      processes = descendantsOf(child.pid!);
      expect(processes.map(commandOf).filter((c) => c === 'mpirun')).toHaveLength(2);
      expect(processes.map(commandOf).filter((c) => c === 'mpi_pingpong')).toHaveLength(4);
      child.kill('SIGINT');
      expect(await closed).toBe(130);
      expect(stderr()).toContain('switchyard bench: interrupted by SIGINT');
      expect(processes.filter(isAlive)).toEqual([]);
      // Only the user's own Switchyard folder (its jobs' records) stays, as in /tmp.
      expect(readdirSync(temp).filter((name) => name !== `switchyard-${process.getuid!()}`)).toEqual([]);
    } finally {
      for (const pid of [child.pid!, ...processes.filter(isAlive)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone, as it should be
        }
      }
    }
  }, 60_000);
});
