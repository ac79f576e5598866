import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LaunchError } from './errors.js';

/**
 * Where ranks run: `core` binds rank i (and its threads) to the i-th core this launcher may use;
 * `none` leaves them to the scheduler. Unset: mpirun's default, `core` for at most 2 ranks that
 * each have a core of their own, `none` otherwise.
 */
export type BindPolicy = 'core' | 'none';
export const BIND_POLICIES: readonly BindPolicy[] = ['core', 'none'];

/** mpirun binds to a core up to this many ranks, and to a package (here: every core) above. */
const CORE_BINDING_MAX_RANKS = 2;

/** The cores of a Linux CPU list such as `0-3,8,10-11`; throws on anything else. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a CPU list: '${text.trim()}'`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The cores this process may run on (its affinity, from /proc), or undefined where that cannot be read. */
export function allowedCpus(statusFile = '/proc/self/status'): number[] | undefined {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(statusFile, 'utf8'));
    return line ? parseCpuList(line[1]!) : undefined;
  } catch {
    return undefined;
  }
}

/** Each rank's core (by rank), or none at all; throws a LaunchError for a binding that cannot be made. */
export function planBindings(np: number, policy: BindPolicy | undefined, cpus: readonly number[] | undefined): number[] | undefined {
  if (policy === 'none') return undefined;
  if (policy === undefined) {
    return cpus && np <= CORE_BINDING_MAX_RANKS && np <= cpus.length ? cpus.slice(0, np) : undefined;
  }
  if (!cpus) throw new LaunchError('--bind-to core: this system does not say which cores the launcher may use (/proc/self/status)');
  if (np > cpus.length) {
    throw new LaunchError(
      `--bind-to core: ${np} ranks and ${cpus.length} cores to bind them to (${cpus.join(',')}); use --bind-to none or at most ` +
        `${cpus.length} ranks`,
    );
  }
  return cpus.slice(0, np);
}

/**
 * Binds every thread of process `pid` to `cpu` with util-linux's taskset (the rank has just been
 * started: threads it makes later inherit the binding of the thread that makes them). Rejects
 * with taskset's own words when it fails.
 */
export function bindProcess(pid: number, cpu: number, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? 'taskset (util-linux) is not installed' : `taskset: ${err.message}`)),
    );
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(stderr.trim().split('\n').pop() || `taskset exited with code ${code}`));
    });
  });
}

/** `[B/.]`: Open MPI's picture of a binding, one mark per core the launcher may use. */
export function bindingPicture(cpu: number, cpus: readonly number[]): string {
  return `[${cpus.map((c) => (c === cpu ? 'B' : '.')).join('/')}]`;
}
