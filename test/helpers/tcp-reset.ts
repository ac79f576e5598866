import { spawnSync } from 'node:child_process';

/**
 * Why TCP connections cannot be reset from outside here, or undefined: `ss -K` needs root (or
 * CAP_NET_ADMIN) and a kernel with INET_DIAG_DESTROY. Where CI is set it must work.
 */
export function tcpResetSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (process.getuid?.() !== 0) return 'resetting TCP connections with ss -K needs root';
  if (spawnSync('ss', ['-V']).status !== 0) return 'ss (iproute2) is not installed';
  return undefined;
}

interface Socket {
  readonly local: string;
  readonly peer: string;
  readonly pid: number;
}

/** Established TCP sockets and the process owning each, as `ss -tnp` lists them. */
function establishedSockets(): Socket[] {
  const out = spawnSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`ss -tnp failed: ${out.stderr}`);
  const sockets: Socket[] = [];
  for (const line of out.stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    for (const m of line.matchAll(/pid=(\d+)/g)) sockets.push({ local: cols[2]!, peer: cols[3]!, pid: Number(m[1]) });
  }
  return sockets;
}

/**
 * Resets, as an operator would with `ss -K`, the established TCP connections between two of
 * these processes (the job's btl-tcp links, not its control channel); each side gets a reset.
 * Returns how many sockets were killed.
 */
export function resetTcpConnections(pids: readonly number[]): number {
  const mine = new Set(pids);
  const sockets = establishedSockets().filter((s) => mine.has(s.pid));
  const ours = new Set(sockets.map((s) => s.local));
  let killed = 0;
  for (const s of sockets) {
    if (!ours.has(s.peer)) continue; // a connection to something outside the job
    const r = spawnSync('ss', ['-K', '-tn', 'src', s.local, 'dst', s.peer], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ss -K src ${s.local} dst ${s.peer} failed: ${r.stderr}`);
    killed += 1;
  }
  return killed;
}
