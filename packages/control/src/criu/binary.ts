import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CheckpointError } from './errors.js';

/**
 * The oldest CRIU that can checkpoint a Node job on current kernels: 3.17 cannot start on kernels
 * from 6.13 (vDSO layout), 4.1 cannot dump a TCP socket on kernels from 6.16 (SO_PASSCRED).
 */
export const MIN_CRIU_VERSION = [4, 2] as const;
const MIN_TEXT = MIN_CRIU_VERSION.join('.');

/** Where to get one, for every message that says CRIU is missing or too old. */
export const HOW_TO_GET_CRIU =
  `CRIU ${MIN_TEXT} or newer is needed: as root, 'scripts/get-criu.sh' from a Switchyard checkout builds it from Debian's ` +
  `source package into /usr/local/sbin; name another binary with --criu PATH or --mca crs_criu_path PATH`;

/** Folders searched after PATH: criu lives in sbin, which a user's PATH often lacks. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export type CriuProblemCode = 'ERR_SWITCHYARD_CRIU_MISSING' | 'ERR_SWITCHYARD_CRIU_TOO_OLD' | 'ERR_SWITCHYARD_CRIU_CHECK';

export interface CriuProbe {
  /** The binary found, or undefined when none is. */
  readonly path?: string;
  /** `4.2.1`, as `criu --version` says. */
  readonly version?: string;
  /** Whether `criu check` said "Looks good." (run only for a new enough binary). */
  readonly checkOk: boolean;
  /** Why it cannot be used; absent when it can. */
  readonly problem?: { readonly code: CriuProblemCode; readonly reason: string };
}

/** `wanted` (a --criu PATH or crs_criu_path) or the first `criu` on PATH and in the sbin folders. */
export function findCriu(wanted: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (wanted) return isExecutable(wanted) ? wanted : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  return dirs.map((d) => join(d, 'criu')).find(isExecutable);
}

/** Finds CRIU, reads its version and runs `criu check`: what `switchyard info` shows and save/restore require. */
export function probeCriu(wanted?: string, env: NodeJS.ProcessEnv = process.env): CriuProbe {
  const path = findCriu(wanted, env);
  if (!path) {
    const where = wanted ? `${wanted} is not an executable file` : `no criu on PATH or in ${SBIN.join(', ')}`;
    return { checkOk: false, problem: { code: 'ERR_SWITCHYARD_CRIU_MISSING', reason: `${where}. ${HOW_TO_GET_CRIU}` } };
  }
  const version = criuVersion(path);
  if (!version || !newEnough(version)) {
    const what = version ? `${path} is CRIU ${version}` : `${path} does not say its version (criu --version)`;
    const problem = { code: 'ERR_SWITCHYARD_CRIU_TOO_OLD' as const, reason: `${what}. ${HOW_TO_GET_CRIU}` };
    return { path, ...(version ? { version } : {}), checkOk: false, problem };
  }
  const check = spawnSync(path, ['check'], { encoding: 'utf8', timeout: 30_000 });
  const said = `${check.stdout ?? ''}${check.stderr ?? ''}`;
  if (check.status === 0 && said.includes('Looks good')) return { path, version, checkOk: true };
  // Not root is the usual cause: criu needs CAP_SYS_ADMIN and more.
  const lines = said.split('\n').map((l) => l.trim());
  const why = lines.filter((l) => l && !l.includes('RLIMIT_NOFILE')).slice(-3).join(' / ') || `exit ${check.status}`;
  const problem = { code: 'ERR_SWITCHYARD_CRIU_CHECK' as const, reason: `'${path} check' failed (${why}); CRIU runs as root` };
  return { path, version, checkOk: false, problem };
}

/** The probe of a usable CRIU, or a CheckpointError saying why there is none. */
export function requireCriu(wanted?: string, env: NodeJS.ProcessEnv = process.env): { path: string; version: string } {
  const probe = probeCriu(wanted, env);
  if (probe.problem) throw new CheckpointError(probe.problem.code, probe.problem.reason);
  return { path: probe.path!, version: probe.version! };
}

function criuVersion(path: string): string | undefined {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /^Version:\s*(\S+)/m.exec(out.stdout ?? '')?.[1];
}

function newEnough(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  return major > MIN_CRIU_VERSION[0] || (major === MIN_CRIU_VERSION[0] && minor >= MIN_CRIU_VERSION[1]);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
