import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkPrivateDir, ensurePrivateDir, type JobRecord } from './job-dir.js';

/**
 * The record a rank's controller writes when the job was started by another launcher (mpirun,
 * srun): `$XDG_STATE_HOME/switchyard/jobs/<jobId>.json`, 0600 in a 0700 folder, so that
 * `switchyard ctl` of the same user finds the job and can authenticate to it. Not in the tmpdir
 * like the launcher's job folders: on a cluster the home (and so the state dir) is usually shared
 * between the login node and the compute nodes, /tmp is not.
 */
export interface ControllerRecord {
  readonly jobId: string;
  readonly size: number;
  /** `HOST:PORT` of the controller (the first of `addresses`). */
  readonly controller: string;
  /** Every `HOST:PORT` the controller listens on, best first. */
  readonly addresses: readonly string[];
  readonly secret: string;
  /** The controlling rank's pid, on `host`. */
  readonly pid: number;
  readonly host: string;
  /** ISO 8601. */
  readonly started: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Who started the ranks. */
  readonly launcher: 'pmix';
}

const RECORD_SUFFIX = '.json';

/** `$XDG_STATE_HOME/switchyard/jobs`, `~/.local/state/switchyard/jobs` by default. */
export function controllerRecordsRoot(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(state, 'switchyard', 'jobs');
}

export function isControllerRecordPath(path: string): boolean {
  return path.endsWith(RECORD_SUFFIX);
}

export function controllerRecordPath(jobId: string, root = controllerRecordsRoot()): string {
  return join(root, `${jobId}${RECORD_SUFFIX}`);
}

/** Writes the record (0600; folders 0700) at `path`. */
export function writeControllerRecord(record: ControllerRecord, path: string): void {
  ensurePrivateDir(dirname(path));
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

export function removeControllerRecord(path: string): void {
  rmSync(path, { force: true });
}

/** The record at `path`, or undefined when it is missing, unreadable or not one. */
export function readControllerRecord(path: string): ControllerRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as ControllerRecord;
    const fine =
      record.launcher === 'pmix' &&
      typeof record.jobId === 'string' &&
      typeof record.controller === 'string' &&
      typeof record.secret === 'string' &&
      Number.isInteger(record.size) &&
      Number.isInteger(record.pid);
    return fine ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every readable record under `root`, oldest first, with its path. A folder another user owns or
 * may write is refused (a LaunchError), as the job folders are: its records could name any
 * controller and secret.
 */
export function listControllerRecords(root = controllerRecordsRoot()): Array<{ path: string; record: ControllerRecord }> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  checkPrivateDir(root);
  return names
    .filter(isControllerRecordPath)
    .map((name) => ({ path: join(root, name), record: readControllerRecord(join(root, name)) }))
    .filter((e): e is { path: string; record: ControllerRecord } => e.record !== undefined)
    .sort((a, b) => a.record.started.localeCompare(b.record.started));
}

/**
 * The record as the job record tools work with: `controller` says to reach it over TCP,
 * `jobDir` is the record file (what the coordinator reads the script and start time from).
 */
export function jobRecordOf(record: ControllerRecord, path: string): JobRecord {
  return {
    jobId: record.jobId,
    pid: record.pid,
    np: record.size,
    script: record.script,
    args: record.args ?? [],
    cwd: record.cwd ?? '',
    startTime: record.started,
    socketPath: '',
    jobDir: path,
    secret: record.secret,
    launcher: 'pmix',
    controller: record.addresses?.length ? record.addresses : [record.controller],
    host: record.host,
  };
}
