import { readFileSync } from 'node:fs';
import { McaIssue, setTwiceIssue } from './errors.js';
import type { ParamSource, Setting } from './sources.js';
import { invalidUtf8At, notARegularFile, tooLargeForConfig } from './regular-file.js';

/**
 * Open MPI's `mca-params.conf` grammar: one `key = value` per line, `#` starts a comment (at line
 * start, or after white space), values may be double-quoted to keep a `#` or edge spaces.
 */
export interface ConfEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses the text of a conf file; throws a McaIssue naming the file, line and column of the first error. */
export function parseConf(text: string, file: string): ConfEntry[] {
  const entries: ConfEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = stripComment(raw, file, line);
    if (content.trim() === '') return;
    const eq = content.indexOf('=');
    if (eq < 0) {
      const column = content.search(/\S/) + 1;
      throw new McaIssue(`expected 'key = value', found '${content.trim()}'`, { file, line, column });
    }
    const key = content.slice(0, eq).trim();
    if (!KEY.test(key)) {
      const column = content.search(/\S/) + 1;
      throw new McaIssue(
        key === '' ? `missing parameter name before '='` : `'${key}' is not a parameter name (letters, digits and _ only)`,
        { file, line, column },
      );
    }
    // Said rather than settled by order: the command line refuses a parameter given twice too.
    const first = seen.get(key);
    if (first !== undefined) throw setTwiceIssue(key, first, { file, line, column: content.search(/\S/) + 1 });
    seen.set(key, line);
    entries.push({ key, value: unquote(content.slice(eq + 1).trim(), file, line, eq + 2), line });
  });
  return entries;
}

function stripComment(raw: string, file: string, line: number): string {
  let inQuote = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '"') inQuote = !inQuote;
    else if (ch === '#' && !inQuote && (i === 0 || /\s/.test(raw[i - 1]!))) return raw.slice(0, i);
  }
  if (inQuote) throw new McaIssue('unterminated quoted value', { file, line, column: raw.indexOf('"') + 1 });
  return raw;
}

function unquote(value: string, file: string, line: number, column: number): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1);
  if (value.includes('"')) throw new McaIssue(`stray quote in value '${value}'`, { file, line, column });
  return value;
}

/** Reads a conf file into settings of the given source. A missing file is no settings, not an error. */
export function readConfFile(file: string, source: ParamSource): Setting[] {
  const problem = notARegularFile(file);
  if (problem) throw new McaIssue(`cannot read parameter file: it ${problem}; it must be a regular file`, { file });
  const large = tooLargeForConfig(file);
  if (large) throw new McaIssue(`cannot read parameter file: it ${large}`, { file });
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new McaIssue(`cannot read parameter file: ${(err as Error).message}`, { file });
  }
  const bad = invalidUtf8At(bytes);
  if (bad) throw new McaIssue('bytes that are not UTF-8: a parameter file is UTF-8 text', { file, ...bad });
  const text = bytes.toString('utf8');
  return parseConf(text, file).map((e) => ({ name: e.key, raw: e.value, source, file, line: e.line }));
}
