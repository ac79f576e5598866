import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobOutput } from '../../helpers/run-job.js';

/** A traffic job running on the cluster while the test steers it with `switchyard ctl`. */
export interface ClusterTrafficJob {
  readonly jobId: string;
  /** Writes the stop file and waits for the launcher to end (killing it after `ms`). */
  stop(ms?: number): Promise<JobOutput>;
  /** Kills the launcher's process group (cleanup after a failed test). */
  kill(): void;
}

/**
 * Starts traffic.mjs through `start(stopFile, readyFile)` (a launcher spawned in its own process
 * group) and resolves once rank 0 wrote the job id to the ready file. The files live on the file
 * system both namespace hosts share.
 */
export async function startClusterTraffic(
  start: (stopFile: string, readyFile: string) => ChildProcess,
  waitMs = 60_000,
): Promise<ClusterTrafficJob> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-cluster-traffic-'));
  const stopFile = join(dir, 'stop');
  const readyFile = join(dir, 'ready');
  const child = start(stopFile, readyFile);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  const ended = new Promise<JobOutput>((resolve) =>
    child.on('close', (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, ...out });
    }),
  );
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  };
  const jobId = await readyJobId(readyFile, child, waitMs);
  if (!jobId) {
    kill();
    const o = await ended;
    throw new Error(`the traffic job did not start within ${waitMs} ms:\n${o.stderr}${o.stdout}`);
  }
  return {
    jobId,
    kill,
    async stop(ms = 60_000) {
      writeFileSync(stopFile, '1');
      const timer = setTimeout(kill, ms);
      const o = await ended;
      clearTimeout(timer);
      return o;
    },
  };
}

async function readyJobId(file: string, child: ChildProcess, waitMs: number): Promise<string | undefined> {
  for (const deadline = Date.now() + waitMs; Date.now() < deadline && child.exitCode === null; ) {
    const id = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (id) return id;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}
