import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CLI, FIXTURES, ROOT, type JobOutput } from '../../helpers/run-job.js';

/** The script that builds the two-namespace Slurm cluster (scripts/vcluster.sh). */
export const VCLUSTER = join(ROOT, 'scripts/vcluster.sh');
export const CLUSTER_FIXTURES = join(ROOT, 'test/cluster/fixtures');
export { FIXTURES };

/** The two "hosts": their Slurm node names and veth addresses (see scripts/vcluster.sh). */
export const HOSTS = { node1: '10.77.0.1', node2: '10.77.0.2' } as const;

/** What globalSetup tells the test files. */
export interface ClusterState {
  readonly up: boolean;
  /** Why not: a missing prerequisite (skip) or a failed bring-up (fail). */
  readonly reason?: string;
  /** True when the reason is a missing prerequisite of this machine, not a failure. */
  readonly unsupported?: boolean;
  readonly slurmConf?: string;
  readonly upMs?: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    vcluster: ClusterState;
  }
}

const COMMANDS = [
  'ip',
  'nsenter',
  'unshare',
  'flock',
  'timeout',
  'munged',
  'mungekey',
  'slurmctld',
  'slurmd',
  'sinfo',
  'srun',
  'salloc',
  'scancel',
  'mpirun',
];

/** Why this machine cannot run the cluster tests, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `they need Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'they need root (network namespaces, slurmd); run the suite as root, as CI does';
  const missing = COMMANDS.filter((c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length) return `missing commands: ${missing.join(', ')} (apt-get install slurm-wlm munge openmpi-bin iproute2 util-linux)`;
  if (!existsSync('/sys/fs/cgroup')) return '/sys/fs/cgroup is not mounted (slurmd needs it)';
  try {
    createRequire(import.meta.url)('node-gyp-build')(join(ROOT, 'packages/pmix'));
  } catch (err) {
    return `the @switchyard/pmix addon is not built (${(err as Error).message.split('\n')[0]}); install libpmix-dev and run npm ci`;
  }
  return undefined;
}

/** Runs `scripts/vcluster.sh ARGS` to completion (up, down, status). */
export function vcluster(args: string[], timeoutS = 60): { code: number | null; out: string } {
  const r = spawnSync('timeout', ['-s', 'KILL', String(timeoutS), VCLUSTER, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const LOCK_FILE = '/run/sy-vcluster.lock';
const LOCK_WAIT_S = 300;

/**
 * Holds an flock(1) on /run/sy-vcluster.lock until `release()`: two test runs on one machine
 * would otherwise take down each other's cluster. The holder is a child process, so the lock
 * goes away with this process whatever way it ends.
 */
export function holdClusterLock(): Promise<{ release(): void } | { error: string }> {
  return new Promise((resolve) => {
    const holder = spawn('flock', ['-w', String(LOCK_WAIT_S), LOCK_FILE, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    holder.stdout.once('data', () => resolve({ release: () => holder.stdin.end() }));
    holder.on('exit', (code) => resolve({ error: `another run held ${LOCK_FILE} for ${LOCK_WAIT_S}s (flock exit ${code})` }));
    holder.on('error', (err) => resolve({ error: `flock: ${err.message}` }));
  });
}

/** What a stopped cluster must not leave: its namespaces, its scratch folders, its daemons. Undefined when clean. */
export function leftovers(): string | undefined {
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /^sy-h[12]\b/.test(l));
  const scratch = readdirSync('/tmp').filter((d) => d.startsWith('sy-vcluster.'));
  const daemons = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/tmp/sy-vcluster.');
      } catch {
        return false;
      }
    });
  const found = [...netns.map((n) => `namespace ${n}`), ...scratch.map((d) => `/tmp/${d}`), ...daemons.map((p) => `process ${p}`)];
  return found.length ? found.join(', ') : undefined;
}

export interface LaunchOptions {
  /** Hard limit: `timeout -s KILL` ends the launcher (and the cluster teardown its tasks). */
  readonly timeoutS?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * Starts CMD inside the cluster's login namespace (sy-h1, where srun, salloc and mpirun run)
 * under `timeout -s KILL`, in its own process group so a test can kill it whole.
 */
export function spawnInCluster(cmd: readonly string[], options: LaunchOptions = {}): ChildProcess {
  const timeoutS = options.timeoutS ?? 60;
  return spawn('timeout', ['-s', 'KILL', String(timeoutS), VCLUSTER, 'exec', ...cmd], {
    cwd: options.cwd ?? FIXTURES,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/** Cancels every job of the cluster (after a launcher was killed), so the next test starts on idle nodes. */
export function cancelAllJobs(): void {
  spawnSync('timeout', ['-s', 'KILL', '10', VCLUSTER, 'exec', 'scancel', '--user', 'root'], { stdio: 'ignore' });
}

/** Runs CMD in the cluster to its end (see spawnInCluster). */
export function inCluster(cmd: readonly string[], options: LaunchOptions = {}): Promise<JobOutput> {
  return new Promise((resolve) => {
    const child = spawnInCluster(cmd, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => {
      // timeout(1) exits 137 when it had to kill.
      if (code === 137) {
        stderr += `\n[test] ${cmd.join(' ')} killed after ${options.timeoutS ?? 60}s\n`;
        cancelAllJobs();
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The environment that selects BTLs for ranks of a foreign launcher: SWITCHYARD_MCA_* variables. */
export function mcaEnv(pairs: Record<string, string>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(pairs).map(([k, v]) => [`SWITCHYARD_MCA_${k}`, v]));
}

/** `srun --mpi=pmix` over both nodes: 2 ranks per node (-O: 4 tasks may exceed the CPUs). */
export function srunCommand(script: readonly string[], ntasks = 4): string[] {
  return ['srun', '--mpi=pmix', '-N', '2', '-n', String(ntasks), '-O', '--kill-on-bad-exit=1', process.execPath, ...script];
}

export function srun(script: string[], options: LaunchOptions & { ntasks?: number } = {}): Promise<JobOutput> {
  return inCluster(srunCommand(script, options.ntasks), options);
}

/**
 * `mpirun` across both nodes inside an allocation: salloc grants node1 and node2, mpirun
 * starts its orted on them through srun, the ranks get Open MPI's PMIx server. The variables of
 * `env` go to every rank (`-x`), as a user would export them.
 */
export function mpirunCommand(script: readonly string[], ntasks = 4, env: NodeJS.ProcessEnv = {}): string[] {
  const forward = Object.keys(env).flatMap((name) => ['-x', name]);
  return [
    'salloc',
    '-N',
    '2',
    '-n',
    String(ntasks),
    '-O',
    'mpirun',
    '--allow-run-as-root',
    '-np',
    String(ntasks),
    ...forward,
    process.execPath,
    ...script,
  ];
}

export function mpirun(script: string[], options: LaunchOptions & { ntasks?: number } = {}): Promise<JobOutput> {
  return inCluster(mpirunCommand(script, options.ntasks, options.env), options);
}

/** `switchyard ctl ARGS --json` run in the login namespace, where the controller's addresses are reachable. */
export async function ctlInCluster(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutS = 60,
): Promise<{ code: number | null; json: any; out: string }> {
  const r = await inCluster([process.execPath, CLI, 'ctl', ...args, '--json'], { env, timeoutS, cwd: ROOT });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {}
  return { code: r.code, json, out: `${r.stdout}${r.stderr}` };
}
