import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One end of a connected socket as `ss -p` shows it: which process holds it, and both addresses. */
export interface SocketEnd {
  readonly kind: 'unix' | 'tcp';
  readonly pid: number;
  readonly fd: number;
  /** Unix: the socket's inode; TCP: `address:port`. */
  readonly local: string;
  /** Unix: the peer socket's inode; TCP: `address:port`. */
  readonly peer: string;
}

/**
 * The host's connected Unix-domain stream and TCP sockets with their holders (`ss -xpnH`,
 * `ss -tpnH`), or why they cannot be listed. `ss` is the only way to a Unix socket's peer
 * (the kernel's sock_diag); /proc/net/unix does not say which socket is joined to which.
 */
export async function connectedSockets(): Promise<SocketEnd[] | string> {
  try {
    const [unix, tcp] = await Promise.all([run('ss', ['-xpnH']), run('ss', ['-tpnH'])]);
    return [...parse(unix.stdout, 'unix'), ...parse(tcp.stdout, 'tcp')];
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? '`ss` (iproute2) is not installed' : `\`ss\` failed: ${e.message.split('\n')[0]}`;
  }
}

function parse(text: string, kind: SocketEnd['kind']): SocketEnd[] {
  const out: SocketEnd[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const users = fields.at(-1);
    if (!users?.startsWith('users:') || !fields.includes('ESTAB')) continue;
    // Unix: ... path inode * peer-inode users; TCP: ... address:port address:port users.
    const [local, peer] = kind === 'unix' ? [fields.at(-4)!, fields.at(-2)!] : [fields.at(-3)!, fields.at(-2)!];
    for (const holder of users.matchAll(/pid=(\d+),fd=(\d+)/g)) out.push({ kind, pid: Number(holder[1]), fd: Number(holder[2]), local, peer });
  }
  return out;
}
