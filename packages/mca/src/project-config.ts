import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { McaIssue, setTwiceIssue } from './errors.js';
import { jsonIssue, offsetToPosition, yamlIssue } from './parse-errors.js';
import { jsonObjectKeys } from './json-keys.js';
import { findProjectRoot, foldersUpTo } from './project-root.js';
import type { Setting } from './sources.js';
import { firstUntrusted, STRICT_TRUST, type TrustPolicy, UntrustedFileIssue } from './trust.js';
import { invalidUtf8At, notARegularFile, tooLargeForConfig } from './regular-file.js';
import { typeScriptConfigLoader } from './ts-config-loader.js';

/** The cosmiconfig name: `.switchyardrc*`, `switchyard.config.*`, the `switchyard` key of package.json. */
export const CONFIG_NAME = 'switchyard';

export const SEARCH_PLACES = [
  'package.json',
  `.${CONFIG_NAME}rc`,
  `.${CONFIG_NAME}rc.json`,
  `.${CONFIG_NAME}rc.yaml`,
  `.${CONFIG_NAME}rc.yml`,
  `.${CONFIG_NAME}rc.js`,
  `.${CONFIG_NAME}rc.ts`,
  `.${CONFIG_NAME}rc.mjs`,
  `.${CONFIG_NAME}rc.cjs`,
  `.config/${CONFIG_NAME}rc`,
  `.config/${CONFIG_NAME}rc.json`,
  `.config/${CONFIG_NAME}rc.yaml`,
  `.config/${CONFIG_NAME}rc.yml`,
  `.config/${CONFIG_NAME}rc.js`,
  `.config/${CONFIG_NAME}rc.ts`,
  `.config/${CONFIG_NAME}rc.mjs`,
  `.config/${CONFIG_NAME}rc.cjs`,
  `${CONFIG_NAME}.config.js`,
  `${CONFIG_NAME}.config.ts`,
  `${CONFIG_NAME}.config.mjs`,
  `${CONFIG_NAME}.config.cjs`,
  `${CONFIG_NAME}.config.json`,
  `${CONFIG_NAME}.config.yaml`,
  `${CONFIG_NAME}.config.yml`,
];

/** JSON and YAML with the parse error placed at its line and column (parse-errors.ts). */
const loadJson: Loader = (file, content) => {
  try {
    return JSON.parse(content);
  } catch (err) {
    throw jsonIssue(file, content, err as Error);
  }
};

// Imported when a YAML file is read: most runs have none, and the parser is many modules to load.
const loadYaml: Loader = async (file, content) => {
  const { parseDocument, LineCounter } = await import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(content, { lineCounter, prettyErrors: false });
  if (doc.errors.length) throw yamlIssue(file, content, doc.errors, lineCounter);
  return doc.toJS();
};

/** JS/TS configs fail inside Node's loader; its stack names `file:line` of a syntax error. */
function withLocation(loader: Loader): Loader {
  return async (file, content) => {
    try {
      return await loader(file, content);
    } catch (err) {
      if (err instanceof McaIssue) throw err;
      // Node's loaders lose a syntax error's position (and require(esm) may mask the error itself).
      const check = syntaxCheck(file);
      const at = new RegExp(`${escapeRegExp(basename(file))}:(\\d+)`).exec(check);
      const syntax = /^SyntaxError: .*$/m.exec(check);
      if (at && syntax) throw new McaIssue(`cannot load config: ${syntax[0]}`, { file, line: Number(at[1]) });
      throw new McaIssue(`cannot load config: ${(err as Error).message ?? err}`, { file });
    }
  };
}

/** Node's ESM loader drops the position of a syntax error; `node --check` reports it. */
function syntaxCheck(file: string): string {
  if (!/\.[cm]?js$/.test(file)) return '';
  return spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' }).stderr ?? '';
}

export interface ProjectConfig {
  readonly file: string;
  readonly settings: Setting[];
}

/** Config files that are programs: loading one runs it. */
const EXECUTABLE = /\.(js|mjs|cjs|ts|mts|cts)$/;

/**
 * Finds the project's config from `cwd`, walking up to the project root (the nearest folder with
 * a package.json or a version-control root; without either, `cwd` alone), never above it, and
 * returns its keys as settings with their lines. A config file that another user owns or can
 * write is refused before it is read (an executable one would run), with an UntrustedFileIssue.
 * Throws a McaIssue with file, line and column when the file does not parse or is not a flat
 * map of parameter names to values.
 */
export async function loadProjectConfig(
  cwd: string,
  explicitFile?: string,
  trust: TrustPolicy = STRICT_TRUST,
): Promise<ProjectConfig | undefined> {
  const explorer = cosmiconfig(CONFIG_NAME, {
    searchPlaces: SEARCH_PLACES,
    searchStrategy: 'none',
    cache: false,
    loaders: {
      '.json': loadJson,
      '.yaml': loadYaml,
      '.yml': loadYaml,
      noExt: loadYaml,
      '.js': withLocation(defaultLoaders['.js']),
      '.mjs': withLocation(defaultLoaders['.mjs']),
      '.cjs': withLocation(defaultLoaders['.cjs']),
      '.ts': withLocation(typeScriptConfigLoader(trust)),
    },
  });
  const candidate = explicitFile ?? findConfigFile(cwd);
  if (!candidate) return undefined;
  const refused = firstUntrusted([candidate], trust, [dirname(candidate)]);
  if (refused) {
    const what = EXECUTABLE.test(candidate) ? 'run' : 'read';
    throw new UntrustedFileIssue(`refused to ${what} this project config: ${refused}`, { file: candidate });
  }
  const large = tooLargeForConfig(candidate);
  if (large) throw new McaIssue(`cannot read project config: it ${large}`, { file: candidate });
  const bad = invalidUtf8At(readFileSync(candidate));
  if (bad) throw new McaIssue('bytes that are not UTF-8: a project config is UTF-8 text', { file: candidate, ...bad });
  const result = await explorer.load(candidate);
  if (!result || result.isEmpty) return undefined;
  const file = result.filepath;
  let config: unknown = result.config;
  // ESM configs may arrive as a namespace with a default export.
  if (config && typeof config === 'object' && 'default' in config && Object.keys(config).length === 1) {
    config = (config as { default: unknown }).default;
  }
  const text = readFileSync(file, 'utf8');
  // In package.json the keys sit under "switchyard": look for them after that key.
  const anchor = basename(file) === 'package.json' ? Math.max(0, text.search(new RegExp(`"${CONFIG_NAME}"\\s*:`))) : 0;
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new McaIssue(`the configuration must be a map of MCA parameter names to values`, {
      file,
      ...offsetToPosition(text, anchor),
    });
  }
  if (isJson(file, text)) checkJsonDuplicates(text, anchor, file);
  const settings: Setting[] = [];
  for (const [name, raw] of Object.entries(config)) {
    const pos = locateKey(text, name, anchor);
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      throw new McaIssue(`'${name}' must be a string, number, boolean or list, not an object`, { file, ...pos });
    }
    settings.push({ name, raw, source: 'project-config', file, ...(pos.line ? { line: pos.line } : {}) });
  }
  return { file, settings };
}

/** A JSON config (JSON.parse keeps the last of two equal keys; YAML refuses them, a JS object literal is the linter's). */
function isJson(file: string, text: string): boolean {
  return file.endsWith('.json') || (basename(file) === `.${CONFIG_NAME}rc` && text.trimStart().startsWith('{'));
}

/** Throws, naming both lines, when the config object sets a parameter twice. */
function checkJsonDuplicates(text: string, anchor: number, file: string): void {
  const open = text.indexOf('{', anchor === 0 ? 0 : text.indexOf(':', anchor));
  const seen = new Map<string, number>();
  for (const { key, offset } of jsonObjectKeys(text, open)) {
    const at = offsetToPosition(text, offset);
    const first = seen.get(key);
    if (first !== undefined) throw setTwiceIssue(key, first, { file, ...at });
    seen.set(key, at.line);
  }
}

/**
 * The config file nearest `cwd`, up to its project root. Two in one folder are an error: only
 * one would be read (the first in cosmiconfig's order of places), the other ignored in silence.
 */
export function findConfigFile(cwd: string): string | undefined {
  for (const dir of foldersUpTo(cwd, findProjectRoot(cwd))) {
    for (const place of SEARCH_PLACES) {
      const problem = notARegularFile(join(dir, place));
      if (problem) throw new McaIssue(`cannot read project config: it ${problem}; it must be a regular file`, { file: join(dir, place) });
    }
    const found = SEARCH_PLACES.map((place) => join(dir, place)).filter(
      (file) => isFile(file) && (basename(file) !== 'package.json' || declaresConfig(file)),
    );
    if (found.length > 1) {
      const names = found.map((f) => f.slice(dir.length + 1));
      throw new McaIssue(
        `${names.length} project configs in one folder (${names.join(', ')}): only ${names[0]} would be read; keep one`,
        { file: found[1]! },
      );
    }
    if (found.length) return found[0];
  }
  return undefined;
}

/** A package.json is a config only with a `switchyard` key (one that does not parse is left to cosmiconfig to report). */
function declaresConfig(file: string): boolean {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(`"${CONFIG_NAME}"`)) return false;
  try {
    return CONFIG_NAME in JSON.parse(text);
  } catch {
    return true;
  }
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The line of `key` as written in a JSON, YAML or JS file (first occurrence after `from`). */
export function locateKey(text: string, key: string, from = 0): { line?: number; column?: number } {
  const re = new RegExp(`(^|[\\s{,])(["']?)${escapeRegExp(key)}\\2\\s*[:=]`, 'gm');
  re.lastIndex = from;
  const m = re.exec(text);
  if (!m) return {};
  return offsetToPosition(text, m.index + m[1]!.length);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
