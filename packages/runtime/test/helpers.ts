import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { launchJob, type JobResult, type LaunchOptions } from '../src/index.js';

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(PACKAGE_DIR, 'test', 'fixtures');

/**
 * Rank fixtures import the built package (as apps do), so build it first; `tsc -b` is
 * incremental and takes a fraction of a second when nothing changed.
 */
export function buildRuntime(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const built = spawnSync(process.execPath, [tsc, '-b', PACKAGE_DIR], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`tsc -b ${PACKAGE_DIR} failed:\n${built.stdout}${built.stderr}`);
}

/** A Writable that keeps everything written to it. */
export class Collector extends Writable {
  #chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#chunks.push(Buffer.from(chunk));
    callback();
  }
  get text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** Every pid a test saw, so afterAll can make sure none is left even when an assertion failed. */
export const seenPids = new Set<number>();

/** The rank -> pid map from the fixtures' `PID <rank> <pid>` lines. */
export function pidsIn(output: string): Map<number, number> {
  const pids = new Map<number, number>();
  for (const match of output.matchAll(/^PID (\d+) (\d+)$/gm)) {
    pids.set(Number(match[1]), Number(match[2]));
    seenPids.add(Number(match[2]));
  }
  return pids;
}

/** process.kill(pid, 0), except that a zombie (exited, not yet reaped by init) counts as dead. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function killLeftovers(): void {
  for (const pid of seenPids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Launched {
  readonly result: JobResult;
  readonly out: string;
  readonly err: string;
  readonly pids: Map<number, number>;
}

/** Runs a fixture job in this process (signals untouched) and captures its output. */
export async function launch(np: number, script: string, args: string[] = [], extra: Partial<LaunchOptions> = {}): Promise<Launched> {
  const stdout = new Collector();
  const stderr = new Collector();
  const result = await launchJob({
    np,
    script,
    args,
    cwd: FIXTURES,
    env: process.env,
    mca: [],
    tagOutput: false,
    stdout,
    stderr,
    handleSignals: false,
    killGraceMs: 500,
    ...extra,
  });
  return { result, out: stdout.text, err: stderr.text, pids: pidsIn(stdout.text) };
}
