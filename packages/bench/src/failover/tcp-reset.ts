/**
 * TCP connections of a job reset from outside it, as an operator (or a firewall's tcp-reset, a
 * flapping NIC) would: `ss -K` on the established connections between two of the job's ranks
 * (its btl-tcp links; the control channel to the launcher is left alone). One `ss -K` call kills
 * them all, so the fault hits every link at the same moment.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { epochNow } from '../switch/plan.js';

const run = promisify(execFile);

/** Why TCP connections cannot be reset from outside here, or undefined when they can. */
export function tcpResetSkipReason(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'resetting TCP connections from outside the job (ss -K) needs root (CAP_NET_ADMIN); run the bench as root';
  if (spawnSync('ss', ['-V']).status !== 0) return 'ss (iproute2) is not installed; it resets the TCP connections';
  return undefined;
}

interface Socket {
  readonly local: string;
  readonly peer: string;
  readonly pid: number;
}

/** Established TCP sockets of these processes whose peer is a socket of one of them too. */
async function jobConnections(pids: readonly number[]): Promise<Socket[]> {
  const { stdout } = await run('ss', ['-tnpH', 'state', 'established'], { maxBuffer: 64 * 1024 * 1024 });
  const mine = new Set(pids);
  const sockets: Socket[] = [];
  for (const line of stdout.split('\n')) {
    // With a state filter the columns are: Recv-Q Send-Q Local Peer Process.
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    for (const m of line.matchAll(/pid=(\d+)/g)) if (mine.has(Number(m[1]))) sockets.push({ local: cols[2]!, peer: cols[3]!, pid: Number(m[1]) });
  }
  const ours = new Set(sockets.map((s) => s.local));
  return sockets.filter((s) => ours.has(s.peer));
}

export interface TcpReset {
  /** Epoch ms just before `ss -K` ran. */
  readonly at: number;
  /** Sockets killed (each connection has two). */
  readonly sockets: number;
}

/** Resets every TCP connection between two of these processes; `sockets` 0 when there was none. */
export async function resetJobConnections(pids: readonly number[]): Promise<TcpReset> {
  const sockets = await jobConnections(pids);
  const at = epochNow();
  if (!sockets.length) return { at, sockets: 0 };
  const filter = sockets.flatMap((s, i) => [...(i ? ['or'] : []), '(', 'src', s.local, 'and', 'dst', s.peer, ')']);
  const { stdout } = await run('ss', ['-K', '-tnH', ...filter]);
  // ss -K lists each socket it closed.
  return { at, sockets: stdout.split('\n').filter((l) => l.trim()).length };
}
