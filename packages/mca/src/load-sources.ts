import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { readConfFile } from './conf-file.js';
import { McaConfigError, McaIssue } from './errors.js';
import { ParamStore } from './param-store.js';
import { loadProjectConfig } from './project-config.js';
import { findProjectRoot } from './project-root.js';
import type { Setting } from './sources.js';
import { firstUntrusted, TRUST_PARAM, trustBeforeProjectConfig, untrustedReason, UntrustedFileIssue } from './trust.js';

export const ENV_PREFIX = 'SWITCHYARD_MCA_';
/** Set by `switchyard run` for its ranks: the launcher's `--mca` pairs as JSON, kept as "command line". */
export const ENV_COMMAND_LINE = 'SWITCHYARD_MCA_CLI';
export const PARAM_FILES_NAME = 'mca_param_files';
export const PARAMS_FILE_BASENAME = 'mca-params.conf';

export interface SourceOptions {
  /** Where the project config is searched from (walking up to the nearest package.json). Default: cwd. */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `--mca KEY VALUE` pairs in order; default: what the launcher passed in SWITCHYARD_MCA_CLI. */
  readonly commandLine?: ReadonlyArray<readonly [string, string]>;
  /** Home folder for the user file `~/.switchyard/mca-params.conf`. */
  readonly homeDir?: string;
  /** Folder of the system file `mca-params.conf`; default `$SWITCHYARD_SYSCONFDIR` or `/etc/switchyard`. */
  readonly sysconfDir?: string;
}

/** The files a configuration was read from, for `info` and error messages. */
export interface SourceFiles {
  readonly systemFile: string;
  readonly userFile: string;
  readonly projectConfig?: string;
  readonly paramFiles: readonly string[];
}

/**
 * Reads every source into a store. Any problem in any source (a file that does not parse, a
 * command line that is not JSON) is collected and thrown together as a McaConfigError.
 */
export async function loadSources(options: SourceOptions = {}): Promise<{ store: ParamStore; files: SourceFiles }> {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const issues: McaIssue[] = [];
  const store = new ParamStore();
  const collect = (read: () => Setting[]) => {
    try {
      store.addAll(read());
    } catch (err) {
      issues.push(err instanceof McaIssue ? err : new McaIssue(String((err as Error).message ?? err)));
    }
  };

  const systemFile = join(options.sysconfDir ?? env.SWITCHYARD_SYSCONFDIR ?? '/etc/switchyard', PARAMS_FILE_BASENAME);
  const userFile = join(options.homeDir ?? env.HOME ?? homedir(), '.switchyard', PARAMS_FILE_BASENAME);
  // Checked as every other file is: whoever can write one of them could widen trust itself
  // (mca_base_trust, mca_component_path). Only the environment and the command line may widen
  // the check of these two.
  const fileTrust = trustBeforeProjectConfig(earlyTrustSettings(new ParamStore(), env, options.commandLine));
  for (const [file, source] of [[systemFile, 'system-file'], [userFile, 'user-file']] as const) {
    const refused = existsSync(file) ? firstUntrusted([file], fileTrust, [dirname(file)]) : undefined;
    if (refused) issues.push(new UntrustedFileIssue(`refused to read this parameter file: ${refused}`, { file }));
    else collect(() => readConfFile(file, source));
  }

  const trust = trustBeforeProjectConfig(earlyTrustSettings(store, env, options.commandLine));
  let projectConfig: string | undefined;
  try {
    const found = await loadProjectConfig(cwd, undefined, trust);
    if (found) {
      projectConfig = found.file;
      store.addAll(found.settings);
    }
  } catch (err) {
    issues.push(err instanceof McaIssue ? err : new McaIssue(`cannot load project config: ${(err as Error).message}`));
  }

  const environment: Setting[] = Object.entries(env)
    .filter(([key, value]) => key.startsWith(ENV_PREFIX) && key !== ENV_COMMAND_LINE && value !== undefined)
    .map(([key, value]) => ({ name: key.slice(ENV_PREFIX.length), raw: value, source: 'environment' }));
  const commandLine: Setting[] = [];
  collect(() => {
    for (const [name, raw] of options.commandLine ?? commandLineFromEnv(env)) {
      commandLine.push({ name, raw, source: 'command-line' });
    }
    return [];
  });

  // Which mca-params.conf files to read is itself a parameter, so it may come from any source above.
  // Found from a subfolder as the project config is: the project's own file is at its root.
  const projectRoot = projectConfig ? dirname(projectConfig) : findProjectRoot(cwd, trust);
  const paramFiles = chooseParamFiles([...commandLine, ...environment, ...store.all(PARAM_FILES_NAME)], projectRoot, cwd);
  for (const file of paramFiles.files) {
    if (paramFiles.explicit && !existsSync(file)) {
      issues.push(new McaIssue(`parameter file '${file}' named by ${PARAM_FILES_NAME} does not exist`));
      continue;
    }
    // Found or named, a file another user can write is not read: it could widen trust itself. The
    // project's own file is checked with its folder, as the project config is.
    const refused = paramFiles.explicit ? untrustedReason(file, trust) : firstUntrusted([file], trust, [dirname(file)]);
    if (refused) {
      issues.push(new UntrustedFileIssue(`refused to read this parameter file: ${refused}`, { file }));
      continue;
    }
    collect(() => readConfFile(file, 'params-file'));
  }

  store.addAll(environment);
  store.addAll(commandLine);
  if (issues.length) throw new McaConfigError(issues);
  return { store, files: { systemFile, userFile, ...(projectConfig ? { projectConfig } : {}), paramFiles: paramFiles.files } };
}

/** `mca_base_trust` as the sources read before the project config give it (a bad command line counts as none here). */
function earlyTrustSettings(store: ParamStore, env: NodeJS.ProcessEnv, commandLine: SourceOptions['commandLine']): Setting[] {
  let pairs: ReadonlyArray<readonly [string, string]> = [];
  try {
    pairs = commandLine ?? commandLineFromEnv(env);
  } catch {
    // Reported where the command line is read.
  }
  const fromEnv = env[`${ENV_PREFIX}${TRUST_PARAM}`];
  return [
    ...store.all(TRUST_PARAM),
    ...(fromEnv !== undefined ? [{ name: TRUST_PARAM, raw: fromEnv, source: 'environment' as const }] : []),
    ...pairs.filter(([k]) => k === TRUST_PARAM).map(([, raw]) => ({ name: TRUST_PARAM, raw, source: 'command-line' as const })),
  ];
}

function commandLineFromEnv(env: NodeJS.ProcessEnv): Array<[string, string]> {
  const text = env[ENV_COMMAND_LINE];
  if (!text) return [];
  let pairs: unknown;
  try {
    pairs = JSON.parse(text);
  } catch {
    throw new McaIssue(`${ENV_COMMAND_LINE} is not valid JSON`);
  }
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new McaIssue(`${ENV_COMMAND_LINE} must be a JSON list of [key, value] pairs`);
  }
  return pairs.map(([k, v]) => [String(k), String(v)]);
}

/**
 * `mca_param_files` as the highest source gave it (a `:` or `,` separated list, `none` for no
 * files); without it, the project's own `mca-params.conf` if there is one.
 */
function chooseParamFiles(settings: Setting[], projectRoot: string, cwd: string): { files: string[]; explicit: boolean } {
  const rank = (s: Setting) => ['project-config', 'environment', 'command-line'].indexOf(s.source);
  const chosen = settings.filter((s) => s.name === PARAM_FILES_NAME).sort((a, b) => rank(b) - rank(a))[0];
  if (!chosen) {
    const local = join(projectRoot, PARAMS_FILE_BASENAME);
    return { files: existsSync(local) ? [local] : [], explicit: false };
  }
  const list = Array.isArray(chosen.raw) ? chosen.raw.map(String) : String(chosen.raw).split(/[:,]/);
  const names = list.map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return { files: [], explicit: true };
  // Relative to the file that names them, or to where the command runs (a command line, the environment).
  const base = chosen.file ? dirname(chosen.file) : cwd;
  return { files: names.map((n) => (isAbsolute(n) ? n : resolve(base, n))), explicit: true };
}
