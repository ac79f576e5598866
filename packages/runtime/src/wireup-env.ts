import { ENV_HNP_URI, ENV_JOB_ID, ENV_JOB_SECRET, ENV_MCA_CLI, ENV_RANK, ENV_SIZE } from './env-names.js';
import { WireUpError } from './errors.js';

/** What a launched rank reads from its environment. */
export interface RankEnvironment {
  readonly hnpUri: string;
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly secret: string;
  readonly mcaCommandLine: Array<[string, string]>;
}

/** The `--mca` pairs the launcher passed down ([] when none); throws on a malformed value. */
export function mcaCommandLineFrom(env: NodeJS.ProcessEnv): Array<[string, string]> {
  const raw = env[ENV_MCA_CLI];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new WireUpError(`${ENV_MCA_CLI} is not JSON: ${raw}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === 'string'))) {
    throw new WireUpError(`${ENV_MCA_CLI} must be a JSON array of [key, value] string pairs, got ${raw}`);
  }
  return parsed as Array<[string, string]>;
}

/** Reads and checks the launcher's variables; a clear error names the one that is wrong. */
export function readRankEnvironment(env: NodeJS.ProcessEnv): RankEnvironment {
  const need = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new WireUpError(`${ENV_HNP_URI} is set but ${name} is missing`);
    return value;
  };
  const integer = (name: string, min: number) => {
    const text = need(name);
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new WireUpError(`${name} must be an integer >= ${min}, got '${text}'`);
    return value;
  };
  const size = integer(ENV_SIZE, 1);
  const rank = integer(ENV_RANK, 0);
  if (rank >= size) throw new WireUpError(`${ENV_RANK}=${rank} is not below ${ENV_SIZE}=${size}`);
  return {
    hnpUri: need(ENV_HNP_URI),
    jobId: need(ENV_JOB_ID),
    rank,
    size,
    secret: need(ENV_JOB_SECRET),
    mcaCommandLine: mcaCommandLineFrom(env),
  };
}
