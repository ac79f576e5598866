import { readdirSync, readlinkSync } from 'node:fs';

const FD_DIR = '/proc/self/fd';

/**
 * What this process holds open, as `fd -> target` (Linux: /proc/self/fd); undefined where there
 * is no such listing. `filesOnly` leaves out sockets, pipes and event descriptors, which the
 * runtime opens and closes on its own meanwhile.
 */
export function openDescriptors(filesOnly = false): Map<string, string> | undefined {
  let fds: string[];
  try {
    fds = readdirSync(FD_DIR);
  } catch {
    return undefined;
  }
  const held = new Map<string, string>();
  for (const fd of fds) {
    try {
      const target = readlinkSync(`${FD_DIR}/${fd}`);
      if (!filesOnly || !/^(socket|pipe|anon_inode):/.test(target)) held.set(fd, target);
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  return held;
}
