import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { parseDocument, LineCounter } from 'yaml';
import { McaIssue } from './errors.js';
import { jsonIssue, offsetToPosition, yamlIssue } from './parse-errors.js';
import type { Setting } from './sources.js';

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

const loadYaml: Loader = (file, content) => {
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

/**
 * Finds the project's config from `cwd`, walking up to the nearest folder with a package.json
 * (cosmiconfig's `project` strategy), and returns its keys as settings with their lines.
 * Throws a McaIssue with file, line and column when the file does not parse or is not a flat
 * map of parameter names to values.
 */
export async function loadProjectConfig(cwd: string, explicitFile?: string): Promise<ProjectConfig | undefined> {
  const explorer = cosmiconfig(CONFIG_NAME, {
    searchPlaces: SEARCH_PLACES,
    searchStrategy: 'project',
    cache: false,
    loaders: {
      '.json': loadJson,
      '.yaml': loadYaml,
      '.yml': loadYaml,
      noExt: loadYaml,
      '.js': withLocation(defaultLoaders['.js']),
      '.mjs': withLocation(defaultLoaders['.mjs']),
      '.cjs': withLocation(defaultLoaders['.cjs']),
      '.ts': withLocation(defaultLoaders['.ts']),
    },
  });
  const result = explicitFile ? await explorer.load(explicitFile) : await explorer.search(cwd);
  if (!result || result.isEmpty) return undefined;
  const file = result.filepath;
  let config: unknown = result.config;
  // ESM configs may arrive as a namespace with a default export.
  if (config && typeof config === 'object' && 'default' in config && Object.keys(config).length === 1) {
    config = (config as { default: unknown }).default;
  }
  const text = readFileSync(file, 'utf8');
  // In package.json the keys sit under "switchyard": look for them after that key.
  const anchor = basename(file) === 'package.json' ? Math.max(0, text.indexOf(`"${CONFIG_NAME}"`)) : 0;
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new McaIssue(`the configuration must be a map of MCA parameter names to values`, {
      file,
      ...offsetToPosition(text, anchor),
    });
  }
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
