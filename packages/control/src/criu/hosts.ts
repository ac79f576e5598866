/**
 * The hosts a rank can be moved to on one machine: its named network namespaces (/run/netns), each
 * known by its name (`sy-h2`) and, when a process there runs under a host name of its own (a UTS
 * namespace, as scripts/vcluster.sh gives each node's slurmd), by that name too (`node2`). A
 * moved rank comes back in both namespaces, so `hostname` there says where it runs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';

const NETNS_DIR = '/run/netns';

export interface Host {
  /** The namespace's name under /run/netns. */
  readonly netnsName: string;
  /** Its namespace file, where CRIU restores. */
  readonly netns: string;
  /** The host name a process there carries, with the UTS namespace it comes from; absent when none has its own. */
  readonly name?: string;
  readonly uts?: string;
}

/** Every named network namespace, with the host name found in it (if any). */
export function listHosts(dir = NETNS_DIR): Host[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const ours = inode('/proc/self/ns/uts');
  const byNetns = new Map<number, number[]>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    const ino = inode(`/proc/${pid}/ns/net`);
    if (ino !== undefined) byNetns.set(ino, [...(byNetns.get(ino) ?? []), pid]);
  }
  return names.flatMap((netnsName) => {
    const netns = join(dir, netnsName);
    const ino = inode(netns);
    if (ino === undefined) return [];
    // A process of that namespace under a host name of its own (not this one's UTS namespace).
    const named = (byNetns.get(ino) ?? []).find((pid) => {
      const uts = inode(`/proc/${pid}/ns/uts`);
      return uts !== undefined && uts !== ours;
    });
    const uts = named === undefined ? undefined : `/proc/${named}/ns/uts`;
    const name = uts === undefined ? undefined : hostnameIn(uts);
    return [{ netnsName, netns, ...(name && uts ? { name, uts } : {}) }];
  });
}

/** The host HOST names: a network namespace's name or a host name found in one; refused with the choices. */
export function resolveHost(host: string, dir = NETNS_DIR): Host {
  const hosts = listHosts(dir);
  const found = hosts.find((h) => h.netnsName === host) ?? hosts.find((h) => h.name === host);
  if (found) return found;
  const known = hosts.length
    ? `hosts here: ${hosts.map((h) => (h.name ? `${h.name} (network namespace ${h.netnsName})` : h.netnsName)).join(', ')}`
    : `no network namespace in ${dir}: moving a rank needs hosts such as those of scripts/vcluster.sh`;
  throw new CheckpointError('ERR_SWITCHYARD_MIGRATE_HOST', `no host '${host}' to move to (${known})`);
}

/** The host `pid` runs on, when it is one of the named namespaces. */
export function hostOf(pid: number, dir = NETNS_DIR): Host | undefined {
  const ino = inode(`/proc/${pid}/ns/net`);
  return listHosts(dir).find((h) => inode(h.netns) === ino);
}

function hostnameIn(uts: string): string | undefined {
  const r = spawnSync('nsenter', [`--uts=${uts}`, 'hostname'], { encoding: 'utf8', timeout: 5000 });
  const name = r.status === 0 ? r.stdout.trim() : '';
  return name && name !== hostname() ? name : undefined;
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
