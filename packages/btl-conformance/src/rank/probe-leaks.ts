import { readdirSync, readlinkSync } from 'node:fs';

const FD_DIR = '/proc/self/fd';
const PROBES = 3;
const SETTLE_MS = 2000;

/**
 * Files and devices this process holds open, by descriptor (Linux: /proc/self/fd). Sockets, pipes
 * and event descriptors are left out: the runtime opens and closes those on its own meanwhile.
 */
function openFiles(): Map<string, string> | undefined {
  let fds: string[];
  try {
    fds = readdirSync(FD_DIR);
  } catch {
    return undefined;
  }
  const files = new Map<string, string>();
  for (const fd of fds) {
    try {
      const target = readlinkSync(`${FD_DIR}/${fd}`);
      if (!/^(socket|pipe|anon_inode):/.test(target)) files.set(fd, target);
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  return files;
}

/**
 * `open` runs as a probe (`switchyard info`, every hot load, the query before a failed module is
 * reloaded) that no `close` follows: the framework's query, run a few times, must leave no file
 * or device open. A component that takes in `open` what `close` releases leaks one per probe.
 */
export async function probeLeaks(query: () => Promise<unknown>, name: string): Promise<string[]> {
  const before = openFiles();
  if (!before) return [];
  for (let i = 0; i < PROBES; i++) await query();
  const opened = () => [...(openFiles() ?? new Map<string, string>())].filter(([fd, target]) => before.get(fd) !== target);
  // Reads under way elsewhere in the process (the module loader reading a file it imports) close
  // on their own: only what stays open is the probes'.
  let left = opened();
  for (let waited = 0; left.length && waited < SETTLE_MS; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = opened();
  }
  if (!left.length) return [];
  const shown = left.slice(0, 3).map(([fd, target]) => `fd ${fd} -> ${target}`).join(', ');
  return [`${PROBES} probes of btl ${name} (its open(), as switchyard info and the reload probe call it, never followed by close()) ` +
    `left ${left.length} file descriptor(s) open: ${shown}${left.length > 3 ? ', ...' : ''} (open must look, not take)`];
}
