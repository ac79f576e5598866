import { lstatSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { STRICT_TRUST, trustedOwner, type TrustPolicy } from './trust.js';

/** Markers of a version-control checkout's root. */
const VCS_MARKERS = ['.git', '.hg', '.svn', '.jj'];

/**
 * The project a command runs in: the nearest folder, from `dir` up, that holds a package.json or
 * is a version-control root; without either, `dir` itself. Components and configuration are
 * looked for inside it, never in the folders above, which other users may write (`/tmp`). A
 * marker counts only when its owner is trusted (you, root, or `trust`'s owners): in a folder
 * others can write (a shared 1777 folder above a private job folder), one they planted would
 * move the project up to their files, as Git's `safe.directory` guards against.
 */
export function findProjectRoot(dir: string, trust: TrustPolicy = STRICT_TRUST): string {
  const start = resolve(dir);
  const marks = (path: string): boolean => {
    try {
      return trustedOwner(lstatSync(path).uid, trust);
    } catch {
      return false;
    }
  };
  for (let d = start; ; d = dirname(d)) {
    if (marks(join(d, 'package.json')) || VCS_MARKERS.some((m) => marks(join(d, m)))) return d;
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
