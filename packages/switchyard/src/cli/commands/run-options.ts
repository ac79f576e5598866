import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, type ParsedArgs } from '@switchyard/cli-kit';
import { BIND_POLICIES, type BindPolicy } from '@switchyard/runtime';
import { METRICS_PORT_PARAM, metricsAddress } from '../../app/launcher-params.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function ranksOf(parsed: ParsedArgs): number {
  const text = parsed.options.get('np') as string | undefined;
  if (text === undefined) throw new UsageError('missing -n N (or -np N): how many ranks to start');
  const np = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(np) || np < 1) throw new UsageError(`-n takes a positive integer, got '${text}'`);
  return np;
}

/**
 * The ranks' environment: the launcher's, with `-x VAR=VALUE` set. `-x VAR` exports VAR as it
 * is here (every rank runs on this machine and inherits it anyway, as mpirun's local ranks do).
 */
export function exportedEnv(parsed: ParsedArgs, base: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; unset: string[] } {
  const env = { ...base };
  const unset: string[] = [];
  for (const item of (parsed.options.get('x') as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    const name = eq >= 0 ? item.slice(0, eq) : item;
    if (!ENV_NAME.test(name)) throw new UsageError(`-x takes VAR or VAR=VALUE with VAR an environment variable name, got '${item}'`);
    if (eq >= 0) env[name] = item.slice(eq + 1);
    else if (base[name] === undefined) unset.push(name);
  }
  return { env, unset };
}

/** --bind-to core|none, as mpirun spells it; unset: the launcher's default. */
export function bindToOf(parsed: ParsedArgs): BindPolicy | undefined {
  const text = parsed.options.get('bind-to') as string | undefined;
  if (text === undefined) return undefined;
  const policy = BIND_POLICIES.find((p) => p === text.trim().toLowerCase());
  if (!policy) throw new UsageError(`--bind-to takes ${BIND_POLICIES.join(' or ')}, got '${text}'`);
  return policy;
}

/** A job's time limit, and where it was set (named when it runs out). */
export interface TimeLimit {
  readonly seconds: number;
  readonly from: '--timeout' | 'MPIEXEC_TIMEOUT';
}

/** --timeout SECONDS, else MPIEXEC_TIMEOUT as mpirun reads it; a positive integer either way. */
export function timeoutOf(parsed: ParsedArgs, env: NodeJS.ProcessEnv): TimeLimit | undefined {
  const flag = parsed.options.get('timeout') as string | undefined;
  const text = flag ?? env.MPIEXEC_TIMEOUT;
  if (text === undefined || (flag === undefined && text.trim() === '')) return undefined;
  const seconds = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  const from = flag === undefined ? 'MPIEXEC_TIMEOUT' : '--timeout';
  if (!Number.isSafeInteger(seconds) || seconds < 1)
    throw new UsageError(`${from} takes a positive whole number of seconds, got '${text}'`);
  return { seconds, from };
}

/** --output-filename DIR, resolved; refused when DIR is there but is not a folder. */
export function outputDirOf(parsed: ParsedArgs, cwd: string): string | undefined {
  const text = parsed.options.get('output-filename') as string | undefined;
  if (text === undefined) return undefined;
  if (text.trim() === '') throw new UsageError('--output-filename takes a folder, got an empty string');
  const dir = resolve(cwd, text);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--output-filename: ${dir} exists and is not a folder`);
  return dir;
}

/**
 * `--metrics-port [HOST:]PORT`, else the `switchyard_metrics_port` parameter (`--mca`, or
 * SWITCHYARD_MCA_switchyard_metrics_port): where to serve Prometheus metrics. HOST defaults to
 * 127.0.0.1 (the counters are not for the whole network unless asked); port 0 picks a free one.
 */
export function metricsOf(
  parsed: ParsedArgs,
  mca: ReadonlyArray<readonly [string, string]>,
  env: NodeJS.ProcessEnv,
): { host: string; port: number } | undefined {
  const flag = parsed.options.get('metrics-port') as string | undefined;
  const fromMca = mca.findLast(([k]) => k === METRICS_PORT_PARAM)?.[1];
  const text = flag ?? fromMca ?? env[`SWITCHYARD_MCA_${METRICS_PORT_PARAM}`];
  const where = flag !== undefined ? '--metrics-port' : METRICS_PORT_PARAM;
  if (text === undefined || (flag === undefined && text.trim() === '')) return undefined;
  const address = metricsAddress(text);
  if (!address) throw new UsageError(`${where} takes [HOST:]PORT with PORT from 0 to 65535, got '${text}'`);
  return address;
}
