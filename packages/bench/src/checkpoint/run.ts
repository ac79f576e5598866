/**
 * One measurement of `switchyard bench checkpoint`: an N-rank job of `switchyard run` (tcp, its
 * own session, output to a file) streams numbered messages all-to-all; it is saved with
 * `ctl checkpoint save --leave-running` (it runs on), then saved for good and brought back with
 * `switchyard restore`, then told to stop. The real commands do the work, as an operator runs them.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessRunning } from '@switchyard/runtime';
import { BenchRunError } from '../errors.js';
import { benchProgram } from '../scripts.js';
import { parseReports, type CheckpointRankReport } from './report-line.js';
import { benchTempDir } from '../temp-dirs.js';

/** How long the job gets to start and compute, and to stop once told to. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
/** Traffic between the steps: the job's own rhythm, before and after each disturbance. */
const SETTLE_MS = 1000;
/** How long a save or a restore may take here (a loaded machine, 8 ranks). */
const STEP_TIMEOUT_MS = 180_000;

export interface SaveTimes {
  readonly prepareMs: number;
  readonly dumpMs: number;
  /** checkpoint continue: after the dump (--leave-running) or after the restore. */
  readonly continueMs: number;
}

export interface CheckpointRun {
  readonly np: number;
  readonly jobId: string;
  /** The job's own iteration time (each rank's median, their median). */
  readonly iterationMs: number;
  readonly iterations: number;
  readonly leaveRunning: SaveTimes & {
    readonly wallMs: number;
    /** The longest iteration of each rank that overlapped the save (rank order). */
    readonly pauseMs: readonly number[];
  };
  readonly saveRestore: SaveTimes & {
    readonly restoreMs: number;
    readonly wallMs: number;
    readonly pauseMs: readonly number[];
    readonly imageBytes: readonly number[];
    readonly launcherImageBytes: number;
    readonly imagesBytes: number;
  };
  /** Every message arrived once, in order, on every rank. */
  readonly ok: boolean;
}

export interface CheckpointEnv {
  readonly env: NodeJS.ProcessEnv;
  readonly criu: string | undefined;
  readonly progress: (line: string) => void;
}

/** The `switchyard` command of this installation. */
export function switchyardCli(): string {
  const pkg = createRequire(import.meta.url).resolve('@switchyard/mpi/package.json');
  return join(dirname(pkg), 'bin', 'switchyard.js');
}

export async function measureCheckpoint(np: number, e: CheckpointEnv): Promise<CheckpointRun> {
  const work = benchTempDir('checkpoint');
  const cli = switchyardCli();
  const stop = join(work, 'stop');
  const ready = join(work, 'ready');
  const output = join(work, 'job.out');
  const criu = e.criu === undefined ? [] : ['--criu', e.criu];
  const env = { ...e.env, UV_USE_IO_URING: '0' };
  const fd = openSync(output, 'a', 0o600);
  // Its own session, as under setsid: CRIU dumps the launcher's whole tree without --shell-job.
  const job = ['run', '-n', String(np), '--mca', 'btl', 'tcp,self', benchProgram('checkpoint-rank'), stop, ready];
  const launcher = spawn(process.execPath, [cli, ...job], { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const pid = launcher.pid!;
  let ended = false;
  launcher.on('exit', () => (ended = true));
  const run = (args: string[]) => runJson(cli, args, env);
  try {
    const jobId = await waitReady(ready, () => ended, output);
    e.progress(`${np} ranks: job ${jobId} computes; checkpoint save --leave-running`);
    await sleep(SETTLE_MS);
    const t0 = Date.now();
    const kept = await run(['ctl', '--job', jobId, 'checkpoint', 'save', join(work, 'kept'), '--leave-running', '--json', ...criu]);
    const t1 = Date.now();
    const lr = kept.manifest as Manifest;
    await sleep(SETTLE_MS);
    e.progress(`${np} ranks: checkpoint save (the job goes), then switchyard restore`);
    const t2 = Date.now();
    const saved = await run(['ctl', '--job', jobId, 'checkpoint', 'save', join(work, 'ckpt'), '--json', ...criu]);
    const m = saved.manifest as Manifest;
    const restored = await run(['restore', join(work, 'ckpt'), '--json', ...criu]);
    const t3 = Date.now();
    await sleep(SETTLE_MS);
    writeFileSync(stop, '1');
    await waitGone(pid);
    const reports = parseReports(readFileSync(output, 'utf8'));
    if (reports.length !== np) throw new BenchRunError(`${np} ranks: ${reports.length} reported; the job's output:\n${tail(output)}`);
    const resume = restored.resume as { ms: number };
    return {
      np,
      jobId,
      iterationMs: toMicroseconds(median(reports.map((r) => r.medianIterationMs))),
      iterations: reports[0]!.iterations,
      leaveRunning: {
        prepareMs: lr.times.prepareMs,
        dumpMs: lr.times.dumpMs,
        continueMs: lr.times.continueMs ?? 0,
        wallMs: t1 - t0,
        pauseMs: reports.map((r) => toMicroseconds(longestPause(r, t0, t1))),
      },
      saveRestore: {
        prepareMs: m.times.prepareMs,
        dumpMs: m.times.dumpMs,
        restoreMs: restored.restoreMs as number,
        continueMs: resume.ms,
        wallMs: t3 - t2,
        pauseMs: reports.map((r) => toMicroseconds(longestPause(r, t2, t3))),
        imageBytes: m.ranks.map((r) => r.imageBytes),
        launcherImageBytes: m.sizes.launcherImageBytes,
        imagesBytes: m.sizes.imagesBytes,
      },
      ok: reports.every((r) => r.errors === 0 && r.received.every((n, peer) => peer === r.rank || n === r.iterations)),
    };
  } finally {
    // The launcher's group is the job (a restored launcher keeps its pid and group).
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
    rmSync(work, { recursive: true, force: true });
  }
}

/** The part of a checkpoint manifest the bench reads. */
interface Manifest {
  readonly times: { prepareMs: number; dumpMs: number; continueMs?: number };
  readonly ranks: ReadonlyArray<{ imageBytes: number }>;
  readonly sizes: { imagesBytes: number; launcherImageBytes: number };
}

/** The longest iteration of a rank that overlapped [from, to] (0: none longer than the floor). */
function longestPause(r: CheckpointRankReport, from: number, to: number): number {
  return Math.max(0, ...r.pauses.filter((p) => p.at <= to && p.at + p.ms >= from).map((p) => p.ms));
}

function runJson(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { env, timeout: STEP_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      let answer: Record<string, unknown> | undefined;
      try {
        answer = JSON.parse(stdout) as Record<string, unknown>;
      } catch {}
      if (err || !answer || answer.ok === false) {
        reject(new BenchRunError(`switchyard ${args.slice(0, 4).join(' ')} failed: ${stderr.trim() || err?.message || stdout}`));
      } else {
        resolve(answer);
      }
    });
  });
}

async function waitReady(ready: string, ended: () => boolean, output: string): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const id = existsSync(ready) ? readFileSync(ready, 'utf8') : '';
    if (id) return id;
    if (ended() || Date.now() > deadline) throw new BenchRunError(`the job did not start computing; its output:\n${tail(output)}`);
    await sleep(50);
  }
}

/** Waits for the (restored, so no longer our child) launcher to end. */
async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isProcessRunning(pid)) {
    if (Date.now() > deadline) throw new BenchRunError(`the restored job (launcher pid ${pid}) did not end once told to stop`);
    await sleep(50);
  }
}

/** Milliseconds kept to the microsecond: what the clocks resolve, not float noise. */
function toMicroseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no output)';
  }
}
