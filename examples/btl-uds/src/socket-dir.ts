import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUN_PATH_MAX } from './card.js';

/**
 * A directory of our own for the listening socket: `mkdtemp` makes it 0700, so only this user
 * can connect at all (the handshake then checks the job). `preferred` is `btl_uds_dir`; when it
 * is empty, $XDG_RUNTIME_DIR (per user, in memory) or the temp directory, falling back to /tmp
 * when their path is too long for a socket address.
 */
export function makeSocketDir(preferred: string, rank: number, paramName: string): { dir: string; path: string } {
  const file = `${rank}.sock`;
  const fits = (base: string) => Buffer.byteLength(join(base, 'sy-uds-XXXXXX', file)) <= SUN_PATH_MAX;
  let base: string;
  if (preferred) {
    if (!existsSync(preferred)) throw new Error(`${paramName} (${preferred}) does not exist`);
    if (!fits(preferred)) {
      throw new Error(
        `${paramName} (${preferred}) is too long: a socket path must fit in ${SUN_PATH_MAX} bytes; choose a shorter directory`,
      );
    }
    base = preferred;
  } else {
    const candidates = [process.env.XDG_RUNTIME_DIR, tmpdir(), '/tmp'].filter((d): d is string => !!d && existsSync(d));
    const found = candidates.find(fits);
    if (!found) throw new Error(`no directory short enough for a socket path; set ${paramName}`);
    base = found;
  }
  const dir = mkdtempSync(join(base, 'sy-uds-'));
  return { dir, path: join(dir, file) };
}

export function removeSocketDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
