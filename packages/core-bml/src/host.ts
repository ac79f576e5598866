import { readFileSync, readlinkSync } from 'node:fs';

/**
 * What decides, on Linux, whether two processes are on "the same host" for a transport: the
 * running kernel (its boot id) and the network namespace. Two containers, or the two network
 * namespaces of a test cluster, may share a host name and even a machine, yet 127.0.0.1 in one
 * is not 127.0.0.1 in the other. Empty strings where /proc does not tell (other systems).
 */
export interface KernelFacts {
  readonly bootId: string;
  readonly netns: string;
}

export function kernelFacts(): KernelFacts {
  return {
    bootId: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    netns: readOr(() => readlinkSync('/proc/self/ns/net')),
  };
}

function readOr(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

/**
 * This process's node key, published in the modex: ranks with equal keys are on one host (Open
 * MPI's "local peer"). The host name alone is not enough (two namespace "hosts" may share it),
 * and neither is the namespace id alone (every machine's first namespace has the same one).
 */
export function nodeKey(hostname: string, facts: KernelFacts = kernelFacts()): string {
  return [hostname, facts.bootId, facts.netns].join('|');
}
