import type { LineCounter, YAMLError } from 'yaml';
import { McaIssue } from './errors.js';

/**
 * Where a JSON or YAML config goes wrong, as `file:line:col` of the character a reader must fix.
 * V8 names an offset for some JSON errors and none for others ("Unexpected token"), and the YAML
 * parser pins an over-indented line on the line before it (where its multi-line key begins).
 */

/** The JSON parse error of `content` with the line and column of the first character no valid JSON can have there. */
export function jsonIssue(file: string, content: string, err: Error): McaIssue {
  const { line, column } = offsetToPosition(content, firstBadOffset(content));
  const message = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/, \S*".*is not valid JSON$/s, '');
  return new McaIssue(`invalid JSON: ${message}`, { file, line, column });
}

/** The first YAML error, placed on the line to fix. */
export function yamlIssue(file: string, content: string, errors: readonly YAMLError[], lines: LineCounter): McaIssue {
  const first = errors[0]!;
  // A more-indented line after `key: value` turns `value` and that line into one multi-line key.
  const multiline = errors.find((e) => e.code === 'MULTILINE_IMPLICIT_KEY' && content.slice(e.pos[0], e.pos[1]).includes('\n'));
  if (multiline) {
    const next = content.indexOf('\n', multiline.pos[0]) + 1;
    const offset = next + /^[ \t]*/.exec(content.slice(next))![0].length;
    const pos = lines.linePos(offset);
    return new McaIssue('invalid YAML: unexpected indentation (this line is indented as if it continued the value above it)', {
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  const pos = lines.linePos(first.pos[0]);
  return new McaIssue(`invalid YAML: ${first.message.split('\n')[0]}`, { file, line: pos.line, column: pos.col });
}

/** 1-based line and column of `offset` in `text`. */
export function offsetToPosition(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * The offset of the first character after which `content` cannot be the start of any JSON text,
 * found by bisection (a prefix that can still be completed stays so when shortened); for a text
 * that is only cut short, its end.
 */
function firstBadOffset(content: string): number {
  let good = 0;
  let bad = content.length + 1;
  while (bad - good > 1) {
    const mid = (good + bad) >> 1;
    if (completable(content.slice(0, mid))) good = mid;
    else bad = mid;
  }
  return good >= content.length ? content.trimEnd().length : good;
}

function completable(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    const at = / at position (\d+)/.exec(message);
    return at ? Number(at[1]) >= prefix.length : /Unexpected end of JSON input/.test(message);
  }
}
