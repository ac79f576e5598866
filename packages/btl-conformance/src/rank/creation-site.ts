import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A frame's location: `file:line:col`, inside parentheses or after `at `. */
const FRAME = /^\s*at (?:.*\()?(.+?):(\d+):(\d+)\)?$/;

const packageNames = new Map<string, string | undefined>();

/** The name in the package.json nearest above `dir` (cached per folder). */
function packageOf(dir: string): string | undefined {
  if (packageNames.has(dir)) return packageNames.get(dir);
  const file = join(dir, 'package.json');
  let name: string | undefined;
  if (existsSync(file)) {
    try {
      name = (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name ?? '';
    } catch {
      name = '';
    }
  } else if (dirname(dir) !== dir) {
    name = packageOf(dirname(dir));
  }
  packageNames.set(dir, name);
  return name;
}

/**
 * Where in the component's code a handle was made: the first frame of `trace` that is not
 * Node's own nor Switchyard's (the kit, the runtime, the BML), or undefined when none is.
 */
export function creationSite(trace: Error): string | undefined {
  for (const line of (trace.stack ?? '').split('\n').slice(1)) {
    const frame = FRAME.exec(line);
    if (!frame) continue;
    const [, where, row, column] = frame;
    if (where!.startsWith('node:') || !(where!.startsWith('/') || where!.startsWith('file:'))) continue;
    const file = where!.startsWith('file:') ? fileURLToPath(where!) : where!;
    if ((packageOf(dirname(file)) ?? '').startsWith('@switchyard/')) continue;
    return `${file}:${row}:${column}`;
  }
  return undefined;
}
