/**
 * Hosts as network namespaces: on one machine (scripts/vcluster.sh), a "host" a rank moves to is
 * a named network namespace (`ip netns add NAME`: /run/netns/NAME). CRIU runs inside the
 * namespace it works on: a dump from the process's own, so it sees its sockets as they are; a
 * restore from the target's, so the process comes back there (same pid, new addresses).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';

const NETNS_DIR = '/run/netns';

/** The namespace file of HOST: an absolute path to one, or a name under /run/netns. */
export function hostNetns(host: string, dir = NETNS_DIR): string {
  const path = host.startsWith('/') ? host : join(dir, host);
  if (!host || (!host.startsWith('/') && host.includes('/')) || !exists(path)) {
    const names = list(dir);
    const known = names.length ? `network namespaces here: ${names.join(', ')}` : `no network namespace in ${dir}`;
    throw new CheckpointError('ERR_SWITCHYARD_MIGRATE_HOST', `no host '${host}': a host is a network namespace (${known})`);
  }
  return path;
}

/** The network namespace `pid` runs in, as a path CRIU can be run in. */
export function netnsOf(pid: number): string {
  return `/proc/${pid}/ns/net`;
}

/** The UTS namespace (host name) `pid` runs in. */
export function utsOf(pid: number): string {
  return `/proc/${pid}/ns/uts`;
}

/** The command that runs `file args` inside `netns` and `uts` (itself when neither is given). */
export function inNetns(netns: string | undefined, file: string, args: readonly string[], uts?: string): { file: string; args: string[] } {
  const enter = [...(netns === undefined ? [] : [`--net=${netns}`]), ...(uts === undefined ? [] : [`--uts=${uts}`])];
  return enter.length ? { file: 'nsenter', args: [...enter, file, ...args] } : { file, args: [...args] };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
