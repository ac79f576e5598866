import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { CLI, FIXTURES, type JobOutput } from './run-job.js';

/** A job running in the background, as a user's terminal would hold it, with files to steer it. */
export interface BackgroundJob {
  readonly jobId: string;
  readonly child: ChildProcess;
  /** Tells the traffic ranks to finish, and waits for the job to end. */
  stop(timeoutMs?: number): Promise<JobOutput>;
  /** Kills the job's whole process group (cleanup after a failed test). */
  kill(): void;
  /** What the job printed on stdout so far. */
  output(): string;
  /** What the job printed on stderr so far (for a failed test's message). */
  errorOutput(): string;
}

/** Starts `SCRIPT ARGS...` as a job of some launcher, in its own process group, from the fixtures. */
export type JobLauncher = (command: string[]) => ChildProcess;

/**
 * `switchyard run ARGS… SCRIPT …`, SCRIPT from the fixtures. `cwd` is the application folder the
 * job runs in: its config file and node_modules are found from there.
 */
export function switchyardRun(args: string[], cwd = FIXTURES): JobLauncher {
  return ([script, ...rest]) =>
    spawn(process.execPath, [CLI, 'run', ...args, resolvePath(FIXTURES, script!), ...rest], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
}

/**
 * Starts `switchyard run ARGS… traffic.mjs` (or traffic.mjs under another launcher) and resolves
 * once rank 0 reported the job id.
 */
export async function startTrafficJob(launch: string[] | JobLauncher, timeoutMs = 30_000): Promise<BackgroundJob> {
  return startSteeredJob(launch, 'traffic.mjs', (dir) => [join(dir, 'stop'), join(dir, 'ready')], timeoutMs);
}

/** A job steered through files in its own folder (`switch-back.mjs DIR`). */
export interface SteeredJob extends BackgroundJob {
  readonly dir: string;
}

/**
 * Starts `switchyard run ARGS SCRIPT ...scriptArgs(dir)` (or SCRIPT under another launcher) in the
 * background with a fresh folder for its steering files; resolves once rank 0 wrote the job id to
 * `dir/ready`. `stop()` writes `dir/stop` (and `dir/go-stop`) and waits for the job to end.
 */
export async function startSteeredJob(
  launch: string[] | JobLauncher,
  script: string,
  scriptArgs: (dir: string) => string[] = (dir) => [dir],
  timeoutMs = 30_000,
): Promise<SteeredJob> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-steered-'));
  const readyFile = join(dir, 'ready');
  const child = (Array.isArray(launch) ? switchyardRun(launch) : launch)([script, ...scriptArgs(dir)]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<JobOutput>((resolve) =>
    child.on('close', (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    // Also here: a failed test's afterEach kills the job, and the run may end before 'close' comes.
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(readyFile) || readFileSync(readyFile, 'utf8') === '') {
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      const out = await exited;
      throw new Error(`${script} job did not start: ${out.stderr}${out.stdout}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const jobId = readFileSync(readyFile, 'utf8');
  return {
    jobId,
    dir,
    child,
    kill,
    output: () => stdout,
    errorOutput: () => stderr,
    async stop(ms = 60_000) {
      // The job may have ended already (an aborted job removed its folder with it).
      if (existsSync(dir)) for (const f of ['stop', 'go-stop']) writeFileSync(join(dir, f), '1');
      const timer = setTimeout(kill, ms);
      const out = await exited;
      clearTimeout(timer);
      return out;
    },
  };
}

export interface CtlOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Parsed stdout when `--json` was given and it parsed. */
  readonly json?: any;
}

/** Runs `switchyard ctl ARGS` as a user would (`env` adds to this process's environment). */
export function ctl(args: string[], timeoutMs = 90_000, env: NodeJS.ProcessEnv = {}): Promise<CtlOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'ctl', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ctl ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = args.includes('--json') ? JSON.parse(stdout) : undefined;
      } catch {}
      resolve({ code, stdout, stderr, ...(json !== undefined ? { json } : {}) });
    });
  });
}

/** A test's background job and scratch folder, both cleaned up after each test of the file. */
export interface JobScratch {
  job: BackgroundJob | undefined;
  dir: string | undefined;
}

/** Registers the cleanup (kill the job's process group, remove the folder) and returns the holder. */
export function useJobScratch(): JobScratch {
  const scratch: JobScratch = { job: undefined, dir: undefined };
  afterEach(() => {
    scratch.job?.kill();
    scratch.job = undefined;
    if (scratch.dir) rmSync(scratch.dir, { recursive: true, force: true });
    scratch.dir = undefined;
  });
  return scratch;
}
