import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Markers of a version-control checkout's root. */
const VCS_MARKERS = ['.git', '.hg', '.svn', '.jj'];

/**
 * The project a command runs in: the nearest folder, from `dir` up, that holds a package.json or
 * is a version-control root; without either, `dir` itself. Components and configuration are
 * looked for inside it, never in the folders above, which other users may write (`/tmp`).
 */
export function findProjectRoot(dir: string): string {
  const start = resolve(dir);
  for (let d = start; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) || VCS_MARKERS.some((m) => existsSync(join(d, m)))) return d;
    if (dirname(d) === d) return start;
  }
}

/** `dir` and its ancestors up to and including `root` (which must contain it), nearest first. */
export function foldersUpTo(dir: string, root: string): string[] {
  const out: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    out.push(d);
    if (d === root || dirname(d) === d) return out;
  }
}
